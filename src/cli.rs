//! Command-line interface (clap derive): the chatroom by default, and headless subcommands.

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "roundtable",
    version,
    about = "One prompt, several models, side by side, with cost and free-tier quota in view.",
    long_about = "One prompt, several models, side by side, with cost and free-tier quota in view.\n\n\
        Model ids go to OpenRouter by default (openai/gpt-4o-mini, meta-llama/llama-3.2-3b-instruct:free); \
        prefix another configured provider's name to use it (gemini:gemini-2.0-flash, ollama:llama3.2:3b).\n\
        Keys come from OPENROUTER_API_KEY, GEMINI_API_KEY, OPENAI_API_KEY."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Commands>,

    /// Models for the chatroom (repeat -m for each pane).
    #[arg(short = 'm', long = "model", value_name = "MODEL", global = false)]
    pub models: Vec<String>,

    /// Replace every provider's base URL for this run (e.g. a local simulator or proxy).
    #[arg(long, value_name = "URL", global = true)]
    pub base_url: Option<String>,

    /// Run on the built-in simulator even when API keys are set.
    #[arg(long)]
    pub demo: bool,

    /// Reopen a room exactly as it was: the last chatroom room, or the room with this id
    /// (`roundtable rooms` lists them).
    #[arg(long, value_name = "ROOM", num_args = 0..=1, default_missing_value = "last")]
    pub resume: Option<String>,

    /// Start with a blind round: panes are "Model A", "Model B", … until you vote (/vote).
    #[arg(long)]
    pub blind: bool,
}

#[derive(Debug, Subcommand)]
pub enum Commands {
    /// Stream one prompt to several models at once and print their answers and a summary.
    Ask(AskArgs),
    /// List the model catalog with prices, context and capabilities.
    Models(crate::models_cmd::ModelsArgs),
    /// Earlier rooms: list them, show one whole, search prompts and answers, delete.
    Rooms(crate::rooms_cmd::RoomsArgs),
    /// Tokens and cost recorded in the ledger, grouped by model, provider or day.
    Usage(crate::usage_cmd::UsageArgs),
    /// Free-tier and configured quota buckets: used, limit, remaining, reset time.
    Quota(crate::quota_cmd::QuotaArgs),
    /// List every tool (built in, [[tools]] commands, MCP servers' tools) and whether it asks first.
    Tools(crate::tools_cmd::ToolsArgs),
    /// Models ranked by your votes (Bradley–Terry ratings, 95% intervals), with their answers' cost and time.
    Leaderboard(crate::leaderboard_cmd::LeaderboardArgs),
    /// Serve the built-in OpenRouter simulator on loopback (for tests, demos, benchmarks).
    Sim(SimArgs),
    /// Print the directories and config file roundtable uses.
    Paths,
    /// Print the documented default configuration.
    Config,
    /// Print a shell completion script (e.g. `roundtable completions bash > /etc/bash_completion.d/roundtable`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page as roff (`roundtable man | man -l -`).
    Man,
}

/// The completion script for `shell`, generated from these definitions.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "roundtable", out);
}

/// The manual page (roff), generated from these definitions: the command, then a section per
/// subcommand with its synopsis, description and options.
pub fn write_man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    command.build();
    clap_mangen::Man::new(command.clone()).render(out)?;
    for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut part = Vec::new();
        let man = clap_mangen::Man::new(sub.clone());
        man.render_synopsis_section(&mut part)?;
        man.render_description_section(&mut part)?;
        if sub.get_arguments().any(|a| !a.is_hide_set()) {
            man.render_options_section(&mut part)?;
        }
        // The sub-page's sections nest under the subcommand's own heading.
        let part = String::from_utf8_lossy(&part).replace(".SH ", ".SS ");
        writeln!(out, ".SH \"ROUNDTABLE {}\"", sub.get_name().to_uppercase())?;
        out.write_all(part.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definitions_are_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn completions_cover_the_subcommands_in_each_shell() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let mut out = Vec::new();
            write_completions(shell, &mut out);
            let script = String::from_utf8(out).unwrap();
            for word in ["roundtable", "quota", "usage", "demo", "completions", "max-tokens"] {
                assert!(script.contains(word), "{shell}: no {word}");
            }
        }
    }

    #[test]
    fn the_man_page_documents_every_subcommand() {
        let mut out = Vec::new();
        write_man_page(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH roundtable"), "{}", &page[..200.min(page.len())]);
        for section in ["ROUNDTABLE ASK", "ROUNDTABLE QUOTA", "ROUNDTABLE USAGE", "ROUNDTABLE COMPLETIONS"] {
            assert!(page.contains(section), "no {section}");
        }
        assert!(page.contains("\\-\\-max\\-tokens") || page.contains("max-tokens"), "ask's options are listed");
        assert_eq!(page.matches(".SH SYNOPSIS").count(), 1, "subcommand parts nest under their heading");
    }
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// A model to ask (repeat for several: -m openai/gpt-4o-mini -m gemini:gemini-2.0-flash).
    #[arg(short = 'm', long = "model", value_name = "MODEL", required = true)]
    pub models: Vec<String>,

    /// System prompt for every model.
    #[arg(long, value_name = "TEXT")]
    pub system: Option<String>,

    /// Sampling temperature for every model (overrides config).
    #[arg(long, value_name = "T")]
    pub temperature: Option<f64>,

    /// Maximum completion tokens for every model (overrides config).
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<u32>,

    /// Reasoning effort for the models whose catalog entry lists reasoning (the others are
    /// asked without it, with a notice); `off` turns reasoning off where the model allows it.
    #[arg(long, value_name = "LEVEL", value_parser = ["off", "minimal", "low", "medium", "high"])]
    pub reasoning: Option<String>,

    /// Let OpenRouter models search the web (priced per search, shown in the estimate); their
    /// sources are listed under the answer (`citations` on `done` with --json).
    #[arg(long)]
    pub web: bool,

    /// Ask for JSON following this JSON Schema file (`response_format`), from the models whose
    /// catalog entry lists structured outputs; answers are checked and printed indented.
    #[arg(long, value_name = "FILE")]
    pub json_schema: Option<std::path::PathBuf>,

    /// Send a file with the prompt (repeatable): PNG, JPEG, WebP or GIF images and PDFs, to the
    /// models whose catalog entry lists those inputs (the others get the text alone).
    #[arg(long, value_name = "PATH")]
    pub attach: Vec<std::path::PathBuf>,

    /// Emit one JSON object per line (delta, tool_call, tool_result, done, error, ...) instead of text.
    #[arg(long)]
    pub json: bool,

    /// Tools the models may call, comma-separated (built in: calculator, current_time; more
    /// from [[tools]] in the config, and SERVER.TOOL or SERVER.* from [[mcp_servers]]; see
    /// `roundtable tools`). Only models that support tools get them.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub tools: Vec<String>,

    /// Also run tools not marked safe (without it their calls are denied and the model is told).
    #[arg(long)]
    pub yes: bool,

    /// Ask the built-in simulator (in this process, no API key needed) instead of the real
    /// providers; its history goes to the demo's own data directory (`usage --demo`).
    #[arg(long)]
    pub demo: bool,

    /// After the answers, ask this model to compare them: agreements, contradictions, errors
    /// and the best answer (structured JSON where its catalog entry supports it).
    #[arg(long, value_name = "MODEL")]
    pub analyze: Option<String>,

    /// The prompt; read from standard input when absent.
    #[arg(value_name = "PROMPT")]
    pub prompt: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8787)]
    pub port: u16,

    /// Daily cap on requests to `:free` models per key.
    #[arg(long, default_value_t = 50)]
    pub free_daily_limit: u32,

    /// Per-minute cap on requests to `:free` models per key.
    #[arg(long, default_value_t = 20)]
    pub free_per_minute: u32,

    /// Default answer length in tokens for models without a `@tokens=` directive.
    #[arg(long)]
    pub tokens: Option<u32>,

    /// Default speed in tokens/second (0 = as fast as possible).
    #[arg(long)]
    pub tps: Option<f64>,

    /// Default time to first token in milliseconds.
    #[arg(long)]
    pub ttft_ms: Option<u64>,
}
