//! The `roundtable` binary: parse the command line, set up paths and logging, dispatch.

use std::process::ExitCode;

use clap::Parser;
use roundtable::ask::{self, AskOptions};
use roundtable::cli::{Cli, Commands};
use roundtable::config::{Config, DEFAULT_CONFIG};
use roundtable::core::protocol::ModelSettings;
use roundtable::paths::Paths;
use roundtable::sim::{self, SimConfig};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let paths = Paths::resolve();
    let _log_guard = roundtable::logging::init(&paths.log_file());
    if cli.command.is_none() {
        // The chatroom's core runs on a multi-threaded runtime of its own: streams keep flowing
        // while the UI thread (on its own single-threaded runtime) draws or hands the terminal
        // to $EDITOR.
        let resume = match cli.resume.as_deref().map(roundtable::rooms_cmd::parse_room_ref) {
            None => None,
            Some(Ok(room)) => Some(room),
            Some(Err(msg)) => {
                eprintln!("roundtable: {msg}");
                return ExitCode::from(2);
            }
        };
        let opts = roundtable::ui::launch::LaunchOptions {
            models: cli.models,
            base_url: cli.base_url,
            demo: cli.demo,
            resume,
            blind: cli.blind,
        };
        let code = roundtable::ui::launch::run(opts, &paths);
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    // Headless commands run on one thread: a stream's events then reach their consumer without
    // cross-thread wake-ups, which halves the CPU cost per streamed token (benches/ask_vs_curl.sh).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("roundtable: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(dispatch(cli, &paths));
    // Streams still draining after the answer is printed must not hold the process open.
    runtime.shutdown_background();
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn dispatch(cli: Cli, paths: &Paths) -> i32 {
    match cli.command {
        Some(Commands::Ask(args)) => {
            let config = match load_config(paths, cli.base_url.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let prompt = match ask::read_prompt(&args.prompt) {
                Ok(p) => p,
                Err(msg) => {
                    eprintln!("roundtable: {msg}");
                    return ask::EXIT_USAGE;
                }
            };
            let response_format = match args.json_schema.as_deref().map(roundtable::core::structured::load_schema) {
                Some(Err(msg)) => {
                    eprintln!("roundtable: {msg}");
                    return ask::EXIT_USAGE;
                }
                Some(Ok(format)) => Some(format),
                None => None,
            };
            let mut attachments = Vec::new();
            for path in &args.attach {
                match roundtable::core::attach::load(path) {
                    Ok(a) => attachments.push(a),
                    Err(msg) => {
                        eprintln!("roundtable: {msg}");
                        return ask::EXIT_USAGE;
                    }
                }
            }
            let settings = ModelSettings {
                response_format,
                temperature: args.temperature,
                max_tokens: args.max_tokens,
                // `off` is effort `none` on the wire (§2.5).
                reasoning_effort: args.reasoning.map(|r| if r == "off" { "none".into() } else { r }),
                web_search: args.web.then_some(true),
                ..Default::default()
            };
            let opts = AskOptions {
                models: args.models,
                system: args.system,
                settings,
                json: args.json,
                prompt,
                tools: args.tools,
                yes: args.yes,
                attachments,
                analyze: args.analyze,
            };
            // `--demo`: the simulator answers, and its spend stays out of the real ledger.
            let (mut config, mut paths) = (config, paths.clone());
            let _sim = if args.demo || cli.demo {
                match ask::start_demo(&mut config).await {
                    Ok(sim) => {
                        eprintln!("roundtable: demo: the built-in simulator answers (no request leaves this machine).");
                        paths = paths.demo();
                        Some(sim)
                    }
                    Err(msg) => {
                        eprintln!("roundtable: {msg}");
                        return ask::EXIT_FAILED;
                    }
                }
            } else {
                None
            };
            // The MCP servers `ask` started are stopped before the runtime goes.
            let tools = config.tools.clone();
            let code = ask::run(config, &paths, opts).await;
            tools.shutdown().await;
            code
        }
        Some(Commands::Models(args)) => match load_config(paths, cli.base_url.as_deref()) {
            Ok(config) => roundtable::models_cmd::run(&config, paths, args).await,
            Err(code) => code,
        },
        Some(Commands::Rooms(args)) => roundtable::rooms_cmd::run(paths, args),
        Some(Commands::Usage(args)) => roundtable::usage_cmd::run(paths, args),
        Some(Commands::Leaderboard(args)) => roundtable::leaderboard_cmd::run(paths, args),
        Some(Commands::Quota(args)) => match load_config(paths, cli.base_url.as_deref()) {
            Ok(config) => roundtable::quota_cmd::run(&config, paths, args).await,
            Err(code) => code,
        },
        Some(Commands::Tools(args)) => match load_config(paths, cli.base_url.as_deref()) {
            Ok(config) => roundtable::tools_cmd::run(&config, args).await,
            Err(code) => code,
        },
        Some(Commands::Sim(args)) => {
            let config = SimConfig {
                free_daily_limit: args.free_daily_limit,
                free_per_minute: args.free_per_minute,
                default_tokens: args.tokens,
                default_tps: args.tps,
                default_ttft_ms: args.ttft_ms,
                ..SimConfig::default()
            };
            match sim::run_until_ctrl_c(config, args.port).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("roundtable: the simulator could not serve on 127.0.0.1:{}: {e}", args.port);
                    1
                }
            }
        }
        Some(Commands::Paths) => {
            println!("config file: {}", paths.config_file().display());
            println!("data dir:    {}", paths.data_dir.display());
            println!("cache dir:   {}", paths.cache_dir.display());
            println!("log file:    {}", paths.log_file().display());
            0
        }
        Some(Commands::Config) => {
            print!("{DEFAULT_CONFIG}");
            0
        }
        Some(Commands::Completions { shell }) => {
            roundtable::cli::write_completions(shell, &mut std::io::stdout().lock());
            0
        }
        Some(Commands::Man) => match roundtable::cli::write_man_page(&mut std::io::stdout().lock()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("roundtable: could not write the manual page: {e}");
                1
            }
        },
        None => unreachable!("the chatroom is dispatched before the headless runtime starts"),
    }
}

/// The config file merged over the defaults, with `--base-url` applied; prints the problem and
/// gives the usage exit code when the file is broken.
fn load_config(paths: &Paths, base_url: Option<&str>) -> Result<Config, i32> {
    match Config::load(&paths.config_file()) {
        Ok(mut c) => {
            if let Some(url) = base_url {
                c.override_base_url(url);
            }
            Ok(c)
        }
        Err(e) => {
            eprintln!("roundtable: {e}");
            Err(ask::EXIT_USAGE)
        }
    }
}
