
use builtin;
use str;

set edit:completion:arg-completer[cart] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'cart'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'cart'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand worker 'Run the worker that hosts the carts and their payments and e-mail'
            cand new 'Start a new cart and print its id'
            cand add 'Add a product to a cart, creating the cart if it does not exist yet'
            cand remove 'Remove a product from a cart: some of it with --qty, or the whole line without'
            cand email 'Set the e-mail address for a cart''s receipt and reminder'
            cand checkout 'Pay for a cart. On success the cart is closed and its receipt shown'
            cand show 'Show a cart: its items, total, status and e-mail'
            cand refund 'Refund a paid order: all that is left, or part of it with --amount'
            cand cancel 'Cancel a paid order that has not shipped, refunding all that is left of it'
            cand ship 'Mark a paid order shipped, and e-mail the customer once'
            cand products 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)'
            cand list 'List carts on this task queue, newest first: the open ones, or those the filters choose'
            cand shell 'Open an interactive prompt that keeps a current cart'
            cand demo 'Run a scripted shopping session against the configured Temporal server'
            cand serve 'Serve the carts over HTTP: the tutorial''s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json'
            cand codec-server 'Decrypt carts'' data for the `temporal` CLI and the Temporal Web UI (Temporal''s remote codec protocol: POST /encode and /decode)'
            cand codec-key 'Make a new key for encrypting carts'' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")'
            cand completions 'Print the static shell completion script for SHELL'
            cand man 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cart;worker'= {
            cand --data-dir 'Where the ledger and outbox live [default: the user''s data directory, e.g. ~/.local/share/cart]'
            cand --catalog 'The catalog that prices the carts: a TOML or JSON file [default: built in]'
            cand --max-cached-carts 'How many carts to keep in memory between their changes (Temporal''s sticky cache). A cart that is not is rebuilt from its history when next touched: fewer cost replays, more cost memory (see docs/design.md, "Performance")'
            cand --metrics 'Serve Prometheus metrics (the carts'' counters and the Temporal SDK''s worker metrics) at /metrics, liveness at /healthz and readiness at /readyz on this address'
            cand --stripe-secret-key 'Charge through Stripe with this secret key (`sk_test_…` or `sk_live_…`) instead of the local ledger'
            cand --stripe-private-key 'The tutorial''s name for STRIPE_SECRET_KEY, taken when that is not set'
            cand --stripe-api 'Stripe''s API to charge with: payment_intents or charges (the tutorial''s) [default: payment_intents]'
            cand --stripe-api-base 'Where Stripe''s API is, e.g. a Stripe mock server [default: https://api.stripe.com]'
            cand --stripe-timeout 'How long one request to Stripe may take, from 1s to 25s [default: 20s]'
            cand --stripe-key-window 'How long after a checkout''s first request its idempotency key may still be sent, at most 23h (Stripe keeps keys for 24 hours) [default: 23h]'
            cand --stripe-search-lag 'How long Stripe''s search may take to show a payment; at least 1m against Stripe''s own API [default: 10m]'
            cand --stripe-follow-up-max 'The longest wait between two follow-ups of a payment not settled, from 1s to 1h [default: 5m]'
            cand --smtp-url 'Send e-mail through this SMTP server instead of the outbox, e.g. smtps://user:password@smtp.example.com or smtp://…:587 (STARTTLS)'
            cand --mailgun-api-key 'Send e-mail through Mailgun with this API key (with --mailgun-domain)'
            cand --mailgun-private-key 'The tutorial''s name for MAILGUN_API_KEY, taken when that is not set'
            cand --mailgun-domain 'The Mailgun domain that sends the e-mail'
            cand --mailgun-api-base 'Mailgun''s API, e.g. https://api.eu.mailgun.net for the EU region [default: https://api.mailgun.net]'
            cand --mail-from 'The sender of every e-mail, e.g. "Shop <shop@example.com>" [default: Cart <cart@localhost>, or cart@ the Mailgun domain]'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;new'= {
            cand --id 'The id for the new cart'
            cand --email 'E-mail address for the receipt and the reminder'
            cand --remind-after 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long'
            cand --expire-after 'Expire a cart that sits unchanged this long'
            cand --reminders-per-day 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)'
            cand --refund-window 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;add'= {
            cand --product 'Product id (see `cart products`)'
            cand --qty 'How many'
            cand --remind-after 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long'
            cand --expire-after 'Expire a cart that sits unchanged this long'
            cand --reminders-per-day 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)'
            cand --refund-window 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;remove'= {
            cand --product 'Product id'
            cand --qty 'How many to remove [default: the whole line]'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;email'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;checkout'= {
            cand --email 'E-mail address for the receipt, if not set before'
            cand --payment 'Payment token or method, e.g. tok_visa or pm_card_visa [default: the provider''s test card; required with live Stripe keys]'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;show'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;refund'= {
            cand --amount 'How much to refund, in the order''s currency, e.g. 12.50 [default: all that is left]'
            cand --reason 'Why, for the customer''s e-mail and the shop''s records'
            cand --id 'The refund''s id; give the same one to ask again for the same refund [default: a new one]'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;cancel'= {
            cand --reason 'Why, for the customer''s e-mail and the shop''s records'
            cand --id 'The id of the cancellation''s refund; give the same one to ask again [default: a new one]'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;ship'= {
            cand --tracking 'The carrier''s tracking number'
            cand --carrier 'The carrier, e.g. UPS'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;products'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;list'= {
            cand --status 'Only carts with this status'
            cand --since 'Only carts changed within this long (e.g. 24h) or since this moment (e.g. 2026-11-27T00:00:00Z)'
            cand --query 'More conditions in Temporal''s list-filter syntax, e.g. "CartTotal > 100000" (minor units) or "CartItems >= 3"'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;shell'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;demo'= {
            cand --remind-after 'How long the cart sits unchanged before its reminder e-mail'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;serve'= {
            cand --listen 'Address to listen on [default: 127.0.0.1:3001, or 127.0.0.1:PORT]'
            cand --port 'The port to listen on at 127.0.0.1 when --listen is not given, as the tutorial''s PORT variable sets it [default: 3001]'
            cand --token 'Require `Authorization: Bearer TOKEN` on every request. Anyone who can list processes sees a token given here: prefer CART_API_TOKEN or --token-file'
            cand --token-file 'Read the token from this file (its first line)'
            cand --operator-token-file 'The token of the shop''s own requests (refunds, cancellations, shipments), which need it and take no other. Without one, those requests are refused. Prefer this to CART_OPERATOR_TOKEN'
            cand --operator-token 'The operator token, from the environment (see --operator-token-file)'
            cand --allow-origin 'Another origin browsers may call from, besides pages on this machine (repeat for several); `*` allows any page on any site'
            cand --allow-host 'Another name the server answers to, such as its public name behind a proxy (repeat for several)'
            cand --metrics 'Serve Prometheus metrics of the requests at /metrics, liveness at /healthz and readiness at /readyz on this address (apart from the API, and without its token)'
            cand --remind-after 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long'
            cand --expire-after 'Expire a cart that sits unchanged this long'
            cand --reminders-per-day 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)'
            cand --refund-window 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand --allow-no-token 'Listen on an address other machines can reach without a token (anyone there may then start, change and pay for carts)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;codec-server'= {
            cand --listen 'Address to listen on'
            cand --token 'Require `Authorization: Bearer TOKEN` (the CLI''s --codec-auth, the UI''s access token). Anyone who can list processes sees a token given here: prefer CART_CODEC_TOKEN or --token-file'
            cand --token-file 'Read the token from this file (its first line)'
            cand --ui-origin 'The Temporal Web UI''s origin, whose pages may call it (repeat for several)'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;codec-key'= {
            cand --id 'The key''s id, stored in the clear beside every payload it encrypts [default: k and the date and time]'
            cand --file 'Add the key to this key file (created readable by its owner only)'
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;completions'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;man'= {
            cand --address 'Temporal frontend address [default: localhost:7233]'
            cand --namespace 'Temporal namespace [default: default]'
            cand --profile 'Profile in temporal.toml to connect with'
            cand --task-queue 'Task queue the cart workers listen on'
            cand --output 'Output format'
            cand --color 'When to use colour: auto means only on a terminal and never when NO_COLOR is set'
            cand --log-format 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline'
            cand --wait 'How long to wait for a worker to answer'
            cand --ui-url 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]'
            cand --codec-key-file 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted'
            cand --codec-key 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'cart;help'= {
            cand worker 'Run the worker that hosts the carts and their payments and e-mail'
            cand new 'Start a new cart and print its id'
            cand add 'Add a product to a cart, creating the cart if it does not exist yet'
            cand remove 'Remove a product from a cart: some of it with --qty, or the whole line without'
            cand email 'Set the e-mail address for a cart''s receipt and reminder'
            cand checkout 'Pay for a cart. On success the cart is closed and its receipt shown'
            cand show 'Show a cart: its items, total, status and e-mail'
            cand refund 'Refund a paid order: all that is left, or part of it with --amount'
            cand cancel 'Cancel a paid order that has not shipped, refunding all that is left of it'
            cand ship 'Mark a paid order shipped, and e-mail the customer once'
            cand products 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)'
            cand list 'List carts on this task queue, newest first: the open ones, or those the filters choose'
            cand shell 'Open an interactive prompt that keeps a current cart'
            cand demo 'Run a scripted shopping session against the configured Temporal server'
            cand serve 'Serve the carts over HTTP: the tutorial''s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json'
            cand codec-server 'Decrypt carts'' data for the `temporal` CLI and the Temporal Web UI (Temporal''s remote codec protocol: POST /encode and /decode)'
            cand codec-key 'Make a new key for encrypting carts'' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")'
            cand completions 'Print the static shell completion script for SHELL'
            cand man 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'cart;help;worker'= {
        }
        &'cart;help;new'= {
        }
        &'cart;help;add'= {
        }
        &'cart;help;remove'= {
        }
        &'cart;help;email'= {
        }
        &'cart;help;checkout'= {
        }
        &'cart;help;show'= {
        }
        &'cart;help;refund'= {
        }
        &'cart;help;cancel'= {
        }
        &'cart;help;ship'= {
        }
        &'cart;help;products'= {
        }
        &'cart;help;list'= {
        }
        &'cart;help;shell'= {
        }
        &'cart;help;demo'= {
        }
        &'cart;help;serve'= {
        }
        &'cart;help;codec-server'= {
        }
        &'cart;help;codec-key'= {
        }
        &'cart;help;completions'= {
        }
        &'cart;help;man'= {
        }
        &'cart;help;help'= {
        }
    ]
    $completions[$command]
}
