# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_cart_global_optspecs
    string join \n address= namespace= profile= task-queue= output= color= log-format= wait= ui-url= codec-key-file= codec-key= h/help V/version
end

function __fish_cart_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_cart_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_cart_using_subcommand
    set -l cmd (__fish_cart_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c cart -n "__fish_cart_needs_command" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_needs_command" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_needs_command" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_needs_command" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_needs_command" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_needs_command" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_needs_command" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_needs_command" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_needs_command" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_needs_command" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_needs_command" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_needs_command" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_needs_command" -f -a "worker" -d 'Run the worker that hosts the carts and their payments and e-mail'
complete -c cart -n "__fish_cart_needs_command" -f -a "new" -d 'Start a new cart and print its id'
complete -c cart -n "__fish_cart_needs_command" -f -a "add" -d 'Add a product to a cart, creating the cart if it does not exist yet'
complete -c cart -n "__fish_cart_needs_command" -f -a "remove" -d 'Remove a product from a cart: some of it with --qty, or the whole line without'
complete -c cart -n "__fish_cart_needs_command" -f -a "email" -d 'Set the e-mail address for a cart\'s receipt and reminder'
complete -c cart -n "__fish_cart_needs_command" -f -a "checkout" -d 'Pay for a cart. On success the cart is closed and its receipt shown'
complete -c cart -n "__fish_cart_needs_command" -f -a "show" -d 'Show a cart: its items, total, status and e-mail'
complete -c cart -n "__fish_cart_needs_command" -f -a "refund" -d 'Refund a paid order: all that is left, or part of it with --amount'
complete -c cart -n "__fish_cart_needs_command" -f -a "cancel" -d 'Cancel a paid order that has not shipped, refunding all that is left of it'
complete -c cart -n "__fish_cart_needs_command" -f -a "ship" -d 'Mark a paid order shipped, and e-mail the customer once'
complete -c cart -n "__fish_cart_needs_command" -f -a "products" -d 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)'
complete -c cart -n "__fish_cart_needs_command" -f -a "list" -d 'List carts on this task queue, newest first: the open ones, or those the filters choose'
complete -c cart -n "__fish_cart_needs_command" -f -a "shell" -d 'Open an interactive prompt that keeps a current cart'
complete -c cart -n "__fish_cart_needs_command" -f -a "demo" -d 'Run a scripted shopping session against the configured Temporal server'
complete -c cart -n "__fish_cart_needs_command" -f -a "serve" -d 'Serve the carts over HTTP: the tutorial\'s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json'
complete -c cart -n "__fish_cart_needs_command" -f -a "codec-server" -d 'Decrypt carts\' data for the `temporal` CLI and the Temporal Web UI (Temporal\'s remote codec protocol: POST /encode and /decode)'
complete -c cart -n "__fish_cart_needs_command" -f -a "codec-key" -d 'Make a new key for encrypting carts\' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")'
complete -c cart -n "__fish_cart_needs_command" -f -a "completions" -d 'Print the static shell completion script for SHELL'
complete -c cart -n "__fish_cart_needs_command" -f -a "man" -d 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`'
complete -c cart -n "__fish_cart_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c cart -n "__fish_cart_using_subcommand worker" -l data-dir -d 'Where the ledger and outbox live [default: the user\'s data directory, e.g. ~/.local/share/cart]' -r -F
complete -c cart -n "__fish_cart_using_subcommand worker" -l catalog -d 'The catalog that prices the carts: a TOML or JSON file [default: built in]' -r -F
complete -c cart -n "__fish_cart_using_subcommand worker" -l max-cached-carts -d 'How many carts to keep in memory between their changes (Temporal\'s sticky cache). A cart that is not is rebuilt from its history when next touched: fewer cost replays, more cost memory (see docs/design.md, "Performance")' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l metrics -d 'Serve Prometheus metrics (the carts\' counters and the Temporal SDK\'s worker metrics) at /metrics, liveness at /healthz and readiness at /readyz on this address' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-secret-key -d 'Charge through Stripe with this secret key (`sk_test_…` or `sk_live_…`) instead of the local ledger' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-private-key -d 'The tutorial\'s name for STRIPE_SECRET_KEY, taken when that is not set' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-api -d 'Stripe\'s API to charge with: payment_intents or charges (the tutorial\'s) [default: payment_intents]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-api-base -d 'Where Stripe\'s API is, e.g. a Stripe mock server [default: https://api.stripe.com]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-timeout -d 'How long one request to Stripe may take, from 1s to 25s [default: 20s]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-key-window -d 'How long after a checkout\'s first request its idempotency key may still be sent, at most 23h (Stripe keeps keys for 24 hours) [default: 23h]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-search-lag -d 'How long Stripe\'s search may take to show a payment; at least 1m against Stripe\'s own API [default: 10m]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l stripe-follow-up-max -d 'The longest wait between two follow-ups of a payment not settled, from 1s to 1h [default: 5m]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l smtp-url -d 'Send e-mail through this SMTP server instead of the outbox, e.g. smtps://user:password@smtp.example.com or smtp://…:587 (STARTTLS)' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l mailgun-api-key -d 'Send e-mail through Mailgun with this API key (with --mailgun-domain)' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l mailgun-private-key -d 'The tutorial\'s name for MAILGUN_API_KEY, taken when that is not set' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l mailgun-domain -d 'The Mailgun domain that sends the e-mail' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l mailgun-api-base -d 'Mailgun\'s API, e.g. https://api.eu.mailgun.net for the EU region [default: https://api.mailgun.net]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l mail-from -d 'The sender of every e-mail, e.g. "Shop <shop@example.com>" [default: Cart <cart@localhost>, or cart@ the Mailgun domain]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand worker" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand worker" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand worker" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand worker" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand worker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand worker" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand new" -l id -d 'The id for the new cart' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l email -d 'E-mail address for the receipt and the reminder' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l remind-after -d 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l expire-after -d 'Expire a cart that sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l reminders-per-day -d 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l refund-window -d 'Take refunds of a paid cart\'s order for this long after its checkout (at most 180d)' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand new" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand new" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand new" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand new" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand new" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand new" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand new" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand add" -l product -d 'Product id (see `cart products`)' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l qty -d 'How many' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l remind-after -d 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l expire-after -d 'Expire a cart that sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l reminders-per-day -d 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l refund-window -d 'Take refunds of a paid cart\'s order for this long after its checkout (at most 180d)' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand add" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand add" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand add" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand add" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand add" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand add" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand add" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand remove" -l product -d 'Product id' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l qty -d 'How many to remove [default: the whole line]' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand remove" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand remove" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand remove" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand remove" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand remove" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand remove" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand email" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand email" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand email" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand email" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand email" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand email" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand email" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand email" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand checkout" -l email -d 'E-mail address for the receipt, if not set before' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l payment -d 'Payment token or method, e.g. tok_visa or pm_card_visa [default: the provider\'s test card; required with live Stripe keys]' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand checkout" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand checkout" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand checkout" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand checkout" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand checkout" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand checkout" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand show" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand show" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand show" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand show" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand show" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand show" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand show" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand show" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand refund" -l amount -d 'How much to refund, in the order\'s currency, e.g. 12.50 [default: all that is left]' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l reason -d 'Why, for the customer\'s e-mail and the shop\'s records' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l id -d 'The refund\'s id; give the same one to ask again for the same refund [default: a new one]' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand refund" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand refund" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand refund" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand refund" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand refund" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand refund" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand cancel" -l reason -d 'Why, for the customer\'s e-mail and the shop\'s records' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l id -d 'The id of the cancellation\'s refund; give the same one to ask again [default: a new one]' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand cancel" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand cancel" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand cancel" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand cancel" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand cancel" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand cancel" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand ship" -l tracking -d 'The carrier\'s tracking number' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l carrier -d 'The carrier, e.g. UPS' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand ship" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand ship" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand ship" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand ship" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand ship" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand ship" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand products" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand products" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand products" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand products" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand products" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand products" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand products" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand products" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand list" -l status -d 'Only carts with this status' -r -f -a "open\t''
checking_out\t''
payment_pending\t''
checked_out\t''
expired\t''"
complete -c cart -n "__fish_cart_using_subcommand list" -l since -d 'Only carts changed within this long (e.g. 24h) or since this moment (e.g. 2026-11-27T00:00:00Z)' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l query -d 'More conditions in Temporal\'s list-filter syntax, e.g. "CartTotal > 100000" (minor units) or "CartItems >= 3"' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand list" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand list" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand list" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand list" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand list" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand list" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand shell" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand shell" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand shell" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand shell" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand shell" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand shell" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand shell" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand demo" -l remind-after -d 'How long the cart sits unchanged before its reminder e-mail' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand demo" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand demo" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand demo" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand demo" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand demo" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand demo" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand serve" -l listen -d 'Address to listen on [default: 127.0.0.1:3001, or 127.0.0.1:PORT]' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l port -d 'The port to listen on at 127.0.0.1 when --listen is not given, as the tutorial\'s PORT variable sets it [default: 3001]' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l token -d 'Require `Authorization: Bearer TOKEN` on every request. Anyone who can list processes sees a token given here: prefer CART_API_TOKEN or --token-file' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l token-file -d 'Read the token from this file (its first line)' -r -F
complete -c cart -n "__fish_cart_using_subcommand serve" -l operator-token-file -d 'The token of the shop\'s own requests (refunds, cancellations, shipments), which need it and take no other. Without one, those requests are refused. Prefer this to CART_OPERATOR_TOKEN' -r -F
complete -c cart -n "__fish_cart_using_subcommand serve" -l operator-token -d 'The operator token, from the environment (see --operator-token-file)' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l allow-origin -d 'Another origin browsers may call from, besides pages on this machine (repeat for several); `*` allows any page on any site' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l allow-host -d 'Another name the server answers to, such as its public name behind a proxy (repeat for several)' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l metrics -d 'Serve Prometheus metrics of the requests at /metrics, liveness at /healthz and readiness at /readyz on this address (apart from the API, and without its token)' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l remind-after -d 'Send a reminder e-mail after a cart with items and an e-mail sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l expire-after -d 'Expire a cart that sits unchanged this long' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l reminders-per-day -d 'Send a cart at most this many reminders in any 24 hours (0: none; at most 100)' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l refund-window -d 'Take refunds of a paid cart\'s order for this long after its checkout (at most 180d)' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand serve" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand serve" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand serve" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand serve" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand serve" -l allow-no-token -d 'Listen on an address other machines can reach without a token (anyone there may then start, change and pay for carts)'
complete -c cart -n "__fish_cart_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand serve" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l listen -d 'Address to listen on' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l token -d 'Require `Authorization: Bearer TOKEN` (the CLI\'s --codec-auth, the UI\'s access token). Anyone who can list processes sees a token given here: prefer CART_CODEC_TOKEN or --token-file' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l token-file -d 'Read the token from this file (its first line)' -r -F
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l ui-origin -d 'The Temporal Web UI\'s origin, whose pages may call it (repeat for several)' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand codec-server" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand codec-server" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand codec-server" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l id -d 'The key\'s id, stored in the clear beside every payload it encrypts [default: k and the date and time]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l file -d 'Add the key to this key file (created readable by its owner only)' -r -F
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand codec-key" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand codec-key" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand codec-key" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand completions" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand completions" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand completions" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand completions" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand completions" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand completions" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand man" -l address -d 'Temporal frontend address [default: localhost:7233]' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l namespace -d 'Temporal namespace [default: default]' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l profile -d 'Profile in temporal.toml to connect with' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l task-queue -d 'Task queue the cart workers listen on' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l output -d 'Output format' -r -f -a "text\t'Tables for people'
json\t'Pretty JSON for scripts: snake_case keys, amounts in minor units (cents)'
jsonl\t'One compact JSON value per line; a list prints one line per element'"
complete -c cart -n "__fish_cart_using_subcommand man" -l color -d 'When to use colour: auto means only on a terminal and never when NO_COLOR is set' -r -f -a "auto\t''
always\t''
never\t''"
complete -c cart -n "__fish_cart_using_subcommand man" -l log-format -d 'How logs are written to stderr: text for people, json (one object per line) for a log pipeline' -r -f -a "text\t''
json\t'One JSON object per line: time, level, target, message and fields'"
complete -c cart -n "__fish_cart_using_subcommand man" -l wait -d 'How long to wait for a worker to answer' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l ui-url -d 'Temporal Web UI to link carts to [default: http://localhost:8233 when talking to a local server on the default port]' -r
complete -c cart -n "__fish_cart_using_subcommand man" -l codec-key-file -d 'File of encryption keys, readable by its owner only (`cart codec-key --file` makes one). Without keys, carts\' data reaches Temporal unencrypted' -r -F
complete -c cart -n "__fish_cart_using_subcommand man" -l codec-key -d 'Encryption keys written out (`ID:BASE64`, separated by commas or newlines), used when no key file is given. Anyone who can list processes sees keys given here: prefer the variable or --codec-key-file' -r
complete -c cart -n "__fish_cart_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c cart -n "__fish_cart_using_subcommand man" -s V -l version -d 'Print version'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "worker" -d 'Run the worker that hosts the carts and their payments and e-mail'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "new" -d 'Start a new cart and print its id'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "add" -d 'Add a product to a cart, creating the cart if it does not exist yet'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "remove" -d 'Remove a product from a cart: some of it with --qty, or the whole line without'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "email" -d 'Set the e-mail address for a cart\'s receipt and reminder'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "checkout" -d 'Pay for a cart. On success the cart is closed and its receipt shown'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "show" -d 'Show a cart: its items, total, status and e-mail'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "refund" -d 'Refund a paid order: all that is left, or part of it with --amount'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "cancel" -d 'Cancel a paid order that has not shipped, refunding all that is left of it'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "ship" -d 'Mark a paid order shipped, and e-mail the customer once'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "products" -d 'List the products and the prices the worker charges (its catalog: `cart worker --catalog`)'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "list" -d 'List carts on this task queue, newest first: the open ones, or those the filters choose'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "shell" -d 'Open an interactive prompt that keeps a current cart'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "demo" -d 'Run a scripted shopping session against the configured Temporal server'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "serve" -d 'Serve the carts over HTTP: the tutorial\'s API (its web front end works unchanged) and /api/v1 with an OpenAPI document at /api/v1/openapi.json'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "codec-server" -d 'Decrypt carts\' data for the `temporal` CLI and the Temporal Web UI (Temporal\'s remote codec protocol: POST /encode and /decode)'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "codec-key" -d 'Make a new key for encrypting carts\' data (see `cart worker --help` and docs/design.md, "Encrypted payloads")'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "completions" -d 'Print the static shell completion script for SHELL'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "man" -d 'Print the man page (roff): `cart man | man -l -`, or install it with `cart man > ~/.local/share/man/man1/cart.1`'
complete -c cart -n "__fish_cart_using_subcommand help; and not __fish_seen_subcommand_from worker new add remove email checkout show refund cancel ship products list shell demo serve codec-server codec-key completions man help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
