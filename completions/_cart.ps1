
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'cart' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'cart'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'cart' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Run the worker that hosts the carts and their payments and e-mail')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Start a new cart and print its id')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a product to a cart, creating the cart if it does not exist yet')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a product from a cart: some of it with --qty, or the whole line without')
            [CompletionResult]::new('email', 'email', [CompletionResultType]::ParameterValue, 'Set the e-mail address for a cart''s receipt and reminder')
            [CompletionResult]::new('checkout', 'checkout', [CompletionResultType]::ParameterValue, 'Pay for a cart. On success the cart is closed and its receipt shown')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a cart: its items, total, status and e-mail')
            [CompletionResult]::new('refund', 'refund', [CompletionResultType]::ParameterValue, 'Refund a paid order: all that is left, or part of it with --amount')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a paid order that has not shipped, refunding all that is left of it')
            [CompletionResult]::new('ship', 'ship', [CompletionResultType]::ParameterValue, 'Mark a paid order shipped, and e-mail the customer once')
            [CompletionResult]::new('products', 'products', [CompletionResultType]::ParameterValue, 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List carts on this task queue, newest first: the open ones, or those the filters choose')
            [CompletionResult]::new('shell', 'shell', [CompletionResultType]::ParameterValue, 'Open an interactive prompt that keeps a current cart')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a scripted shopping session against the configured Temporal server')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the carts over HTTP: the tutorial''s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json')
            [CompletionResult]::new('codec-server', 'codec-server', [CompletionResultType]::ParameterValue, 'Decrypt carts'' data for the `temporal` CLI and the Temporal Web UI (Temporal''s remote codec protocol: POST /encode and /decode)')
            [CompletionResult]::new('codec-key', 'codec-key', [CompletionResultType]::ParameterValue, 'Make a new key for encrypting carts'' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the static shell completion script for SHELL')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cart;worker' {
            [CompletionResult]::new('--data-dir', '--data-dir', [CompletionResultType]::ParameterName, 'Where the ledger and outbox live [default: the user''s data directory, e.g. ~/.local/share/cart]')
            [CompletionResult]::new('--catalog', '--catalog', [CompletionResultType]::ParameterName, 'The catalog that prices the carts: a TOML or JSON file [default: built in]')
            [CompletionResult]::new('--max-cached-carts', '--max-cached-carts', [CompletionResultType]::ParameterName, 'How many carts to keep in memory between their changes (Temporal''s sticky cache). A cart that is not is rebuilt from its history when next touched: fewer cost replays, more cost memory (see docs/design.md, "Performance")')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Serve Prometheus metrics (the carts'' counters and the Temporal SDK''s worker metrics) at /metrics, liveness at /healthz and readiness at /readyz on this address')
            [CompletionResult]::new('--stripe-secret-key', '--stripe-secret-key', [CompletionResultType]::ParameterName, 'Charge through Stripe with this secret key (`sk_test_…` or `sk_live_…`) instead of the local ledger')
            [CompletionResult]::new('--stripe-private-key', '--stripe-private-key', [CompletionResultType]::ParameterName, 'The tutorial''s name for STRIPE_SECRET_KEY, taken when that is not set')
            [CompletionResult]::new('--stripe-api', '--stripe-api', [CompletionResultType]::ParameterName, 'Stripe''s API to charge with: payment_intents or charges (the tutorial''s) [default: payment_intents]')
            [CompletionResult]::new('--stripe-api-base', '--stripe-api-base', [CompletionResultType]::ParameterName, 'Where Stripe''s API is, e.g. a Stripe mock server [default: https://api.stripe.com]')
            [CompletionResult]::new('--stripe-timeout', '--stripe-timeout', [CompletionResultType]::ParameterName, 'How long one request to Stripe may take, from 1s to 25s [default: 20s]')
            [CompletionResult]::new('--stripe-key-window', '--stripe-key-window', [CompletionResultType]::ParameterName, 'How long after a checkout''s first request its idempotency key may still be sent, at most 23h (Stripe keeps keys for 24 hours) [default: 23h]')
            [CompletionResult]::new('--stripe-search-lag', '--stripe-search-lag', [CompletionResultType]::ParameterName, 'How long Stripe''s search may take to show a payment; at least 1m against Stripe''s own API [default: 10m]')
            [CompletionResult]::new('--stripe-follow-up-max', '--stripe-follow-up-max', [CompletionResultType]::ParameterName, 'The longest wait between two follow-ups of a payment not settled, from 1s to 1h [default: 5m]')
            [CompletionResult]::new('--smtp-url', '--smtp-url', [CompletionResultType]::ParameterName, 'Send e-mail through this SMTP server instead of the outbox, e.g. smtps://user:password@smtp.example.com or smtp://…:587 (STARTTLS)')
            [CompletionResult]::new('--mailgun-api-key', '--mailgun-api-key', [CompletionResultType]::ParameterName, 'Send e-mail through Mailgun with this API key (with --mailgun-domain)')
            [CompletionResult]::new('--mailgun-private-key', '--mailgun-private-key', [CompletionResultType]::ParameterName, 'The tutorial''s name for MAILGUN_API_KEY, taken when that is not set')
            [CompletionResult]::new('--mailgun-domain', '--mailgun-domain', [CompletionResultType]::ParameterName, 'The Mailgun domain that sends the e-mail')
            [CompletionResult]::new('--mailgun-api-base', '--mailgun-api-base', [CompletionResultType]::ParameterName, 'Mailgun''s API, e.g. https://api.eu.mailgun.net for the EU region [default: https://api.mailgun.net]')
            [CompletionResult]::new('--mail-from', '--mail-from', [CompletionResultType]::ParameterName, 'The sender of every e-mail, e.g. "Shop <shop@example.com>" [default: Cart <cart@localhost>, or cart@ the Mailgun domain]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;new' {
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The id for the new cart')
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'E-mail address for the receipt and the reminder')
            [CompletionResult]::new('--remind-after', '--remind-after', [CompletionResultType]::ParameterName, 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long')
            [CompletionResult]::new('--expire-after', '--expire-after', [CompletionResultType]::ParameterName, 'Expire a cart that sits unchanged this long')
            [CompletionResult]::new('--reminders-per-day', '--reminders-per-day', [CompletionResultType]::ParameterName, 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)')
            [CompletionResult]::new('--refund-window', '--refund-window', [CompletionResultType]::ParameterName, 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;add' {
            [CompletionResult]::new('--product', '--product', [CompletionResultType]::ParameterName, 'Product id (see `cart products`)')
            [CompletionResult]::new('--qty', '--qty', [CompletionResultType]::ParameterName, 'How many')
            [CompletionResult]::new('--remind-after', '--remind-after', [CompletionResultType]::ParameterName, 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long')
            [CompletionResult]::new('--expire-after', '--expire-after', [CompletionResultType]::ParameterName, 'Expire a cart that sits unchanged this long')
            [CompletionResult]::new('--reminders-per-day', '--reminders-per-day', [CompletionResultType]::ParameterName, 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)')
            [CompletionResult]::new('--refund-window', '--refund-window', [CompletionResultType]::ParameterName, 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;remove' {
            [CompletionResult]::new('--product', '--product', [CompletionResultType]::ParameterName, 'Product id')
            [CompletionResult]::new('--qty', '--qty', [CompletionResultType]::ParameterName, 'How many to remove [default: the whole line]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;email' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;checkout' {
            [CompletionResult]::new('--email', '--email', [CompletionResultType]::ParameterName, 'E-mail address for the receipt, if not set before')
            [CompletionResult]::new('--payment', '--payment', [CompletionResultType]::ParameterName, 'Payment token or method, e.g. tok_visa or pm_card_visa [default: the provider''s test card; required with live Stripe keys]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;show' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;refund' {
            [CompletionResult]::new('--amount', '--amount', [CompletionResultType]::ParameterName, 'How much to refund, in the order''s currency, e.g. 12.50 [default: all that is left]')
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the customer''s e-mail and the shop''s records')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The refund''s id; give the same one to ask again for the same refund [default: a new one]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;cancel' {
            [CompletionResult]::new('--reason', '--reason', [CompletionResultType]::ParameterName, 'Why, for the customer''s e-mail and the shop''s records')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The id of the cancellation''s refund; give the same one to ask again [default: a new one]')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;ship' {
            [CompletionResult]::new('--tracking', '--tracking', [CompletionResultType]::ParameterName, 'The carrier''s tracking number')
            [CompletionResult]::new('--carrier', '--carrier', [CompletionResultType]::ParameterName, 'The carrier, e.g. UPS')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;products' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;list' {
            [CompletionResult]::new('--status', '--status', [CompletionResultType]::ParameterName, 'Only carts with this status')
            [CompletionResult]::new('--since', '--since', [CompletionResultType]::ParameterName, 'Only carts changed within this long (e.g. 24h) or since this moment (e.g. 2026-11-27T00:00:00Z)')
            [CompletionResult]::new('--query', '--query', [CompletionResultType]::ParameterName, 'More conditions in Temporal''s list-filter syntax, e.g. "CartTotal > 100000" (minor units) or "CartItems >= 3"')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;shell' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;demo' {
            [CompletionResult]::new('--remind-after', '--remind-after', [CompletionResultType]::ParameterName, 'How long the cart sits unchanged before its reminder e-mail')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;serve' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on [default: 127.0.0.1:3001, or 127.0.0.1:PORT]')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port to listen on at 127.0.0.1 when --listen is not given, as the tutorial''s PORT variable sets it [default: 3001]')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Require `Authorization: Bearer TOKEN` on every request. Anyone who can list processes sees a token given here: prefer CART_API_TOKEN or --token-file')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from this file (its first line)')
            [CompletionResult]::new('--operator-token-file', '--operator-token-file', [CompletionResultType]::ParameterName, 'The token of the shop''s own requests (refunds, cancellations, shipments), which need it and take no other. Without one, those requests are refused. Prefer this to CART_OPERATOR_TOKEN')
            [CompletionResult]::new('--operator-token', '--operator-token', [CompletionResultType]::ParameterName, 'The operator token, from the environment (see --operator-token-file)')
            [CompletionResult]::new('--allow-origin', '--allow-origin', [CompletionResultType]::ParameterName, 'Another origin browsers may call from, besides pages on this machine (repeat for several); `*` allows any page on any site')
            [CompletionResult]::new('--allow-host', '--allow-host', [CompletionResultType]::ParameterName, 'Another name the server answers to, such as its public name behind a proxy (repeat for several)')
            [CompletionResult]::new('--metrics', '--metrics', [CompletionResultType]::ParameterName, 'Serve Prometheus metrics of the requests at /metrics, liveness at /healthz and readiness at /readyz on this address (apart from the API, and without its token)')
            [CompletionResult]::new('--remind-after', '--remind-after', [CompletionResultType]::ParameterName, 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long')
            [CompletionResult]::new('--expire-after', '--expire-after', [CompletionResultType]::ParameterName, 'Expire a cart that sits unchanged this long')
            [CompletionResult]::new('--reminders-per-day', '--reminders-per-day', [CompletionResultType]::ParameterName, 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)')
            [CompletionResult]::new('--refund-window', '--refund-window', [CompletionResultType]::ParameterName, 'Take refunds of a paid cart''s order for this long after its checkout (at most 180d)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('--allow-no-token', '--allow-no-token', [CompletionResultType]::ParameterName, 'Listen on an address other machines can reach without a token (anyone there may then start, change and pay for carts)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;codec-server' {
            [CompletionResult]::new('--listen', '--listen', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Require `Authorization: Bearer TOKEN` (the CLI''s --codec-auth, the UI''s access token). Anyone who can list processes sees a token given here: prefer CART_CODEC_TOKEN or --token-file')
            [CompletionResult]::new('--token-file', '--token-file', [CompletionResultType]::ParameterName, 'Read the token from this file (its first line)')
            [CompletionResult]::new('--ui-origin', '--ui-origin', [CompletionResultType]::ParameterName, 'The Temporal Web UI''s origin, whose pages may call it (repeat for several)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;codec-key' {
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'The key''s id, stored in the clear beside every payload it encrypts [default: k and the date and time]')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Add the key to this key file (created readable by its owner only)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;completions' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;man' {
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'Temporal frontend address [default: localhost:7233]')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Temporal namespace [default: default]')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'Profile in temporal.toml to connect with')
            [CompletionResult]::new('--task-queue', '--task-queue', [CompletionResultType]::ParameterName, 'Task queue the cart workers listen on')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colour: auto means only on a terminal and never when NO_COLOR is set')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'How long to wait for a worker to answer')
            [CompletionResult]::new('--ui-url', '--ui-url', [CompletionResultType]::ParameterName, 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]')
            [CompletionResult]::new('--codec-key-file', '--codec-key-file', [CompletionResultType]::ParameterName, 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts'' data reaches Temporal unencrypted')
            [CompletionResult]::new('--codec-key', '--codec-key', [CompletionResultType]::ParameterName, 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'cart;help' {
            [CompletionResult]::new('worker', 'worker', [CompletionResultType]::ParameterValue, 'Run the worker that hosts the carts and their payments and e-mail')
            [CompletionResult]::new('new', 'new', [CompletionResultType]::ParameterValue, 'Start a new cart and print its id')
            [CompletionResult]::new('add', 'add', [CompletionResultType]::ParameterValue, 'Add a product to a cart, creating the cart if it does not exist yet')
            [CompletionResult]::new('remove', 'remove', [CompletionResultType]::ParameterValue, 'Remove a product from a cart: some of it with --qty, or the whole line without')
            [CompletionResult]::new('email', 'email', [CompletionResultType]::ParameterValue, 'Set the e-mail address for a cart''s receipt and reminder')
            [CompletionResult]::new('checkout', 'checkout', [CompletionResultType]::ParameterValue, 'Pay for a cart. On success the cart is closed and its receipt shown')
            [CompletionResult]::new('show', 'show', [CompletionResultType]::ParameterValue, 'Show a cart: its items, total, status and e-mail')
            [CompletionResult]::new('refund', 'refund', [CompletionResultType]::ParameterValue, 'Refund a paid order: all that is left, or part of it with --amount')
            [CompletionResult]::new('cancel', 'cancel', [CompletionResultType]::ParameterValue, 'Cancel a paid order that has not shipped, refunding all that is left of it')
            [CompletionResult]::new('ship', 'ship', [CompletionResultType]::ParameterValue, 'Mark a paid order shipped, and e-mail the customer once')
            [CompletionResult]::new('products', 'products', [CompletionResultType]::ParameterValue, 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'List carts on this task queue, newest first: the open ones, or those the filters choose')
            [CompletionResult]::new('shell', 'shell', [CompletionResultType]::ParameterValue, 'Open an interactive prompt that keeps a current cart')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run a scripted shopping session against the configured Temporal server')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Serve the carts over HTTP: the tutorial''s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json')
            [CompletionResult]::new('codec-server', 'codec-server', [CompletionResultType]::ParameterValue, 'Decrypt carts'' data for the `temporal` CLI and the Temporal Web UI (Temporal''s remote codec protocol: POST /encode and /decode)')
            [CompletionResult]::new('codec-key', 'codec-key', [CompletionResultType]::ParameterValue, 'Make a new key for encrypting carts'' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print the static shell completion script for SHELL')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'cart;help;worker' {
            break
        }
        'cart;help;new' {
            break
        }
        'cart;help;add' {
            break
        }
        'cart;help;remove' {
            break
        }
        'cart;help;email' {
            break
        }
        'cart;help;checkout' {
            break
        }
        'cart;help;show' {
            break
        }
        'cart;help;refund' {
            break
        }
        'cart;help;cancel' {
            break
        }
        'cart;help;ship' {
            break
        }
        'cart;help;products' {
            break
        }
        'cart;help;list' {
            break
        }
        'cart;help;shell' {
            break
        }
        'cart;help;demo' {
            break
        }
        'cart;help;serve' {
            break
        }
        'cart;help;codec-server' {
            break
        }
        'cart;help;codec-key' {
            break
        }
        'cart;help;completions' {
            break
        }
        'cart;help;man' {
            break
        }
        'cart;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
