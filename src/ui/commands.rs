//! Slash commands: their names, arguments and help (for the palette and the help overlay), and
//! parsing a typed command line into a [`Cmd`].

/// Which panes a command applies to: one (1-based in the UI, 0-based here) or all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    Focused,
    Pane(usize),
    All,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    Add(Vec<String>),
    Picker,
    Remove(Which),
    Stop(Which),
    Retry(Which),
    New,
    Clear,
    System(Which, String),
    Temperature(Which, Option<f64>),
    MaxTokens(Which, Option<u32>),
    /// Reasoning effort as sent (`none` turns reasoning off); `None` leaves it to the model.
    Reasoning(Which, Option<String>),
    /// OpenRouter's web search on or off.
    Web(Which, bool),
    /// Files for the next prompt: add these (`Some`), or drop them all (`None`).
    Attach(Option<Vec<String>>),
    /// OpenRouter provider preferences: one field of the `provider` object set, or all cleared.
    Provider(Which, ProviderPref),
    /// Structured output: off (`None`), JSON mode (`Some(None)`), or a schema file.
    Json(Which, Option<Option<String>>),
    Theme(Option<String>),
    Copy(Option<usize>),
    Select,
    Mouse,
    Export {
        format: ExportFormat,
        path: Option<String>,
    },
    Sync,
    Zoom(Which),
    /// `None`: the next mode of the cycle.
    Layout(Option<crate::ui::layout::LayoutMode>),
    Adopt(Which),
    Tools(Option<Vec<String>>),
    /// The room browser: list, search, open, rename, delete.
    Rooms,
    /// Take turn N's prompt (default: the last one) into the draft; sending makes a branch.
    Edit(Option<u64>),
    Branch(BranchArg),
    Rename(String),
    Blind,
    Attempts,
    Analyze(Option<String>),
    Vote(crate::core::compare::VoteChoice),
    Tag(Option<String>),
    Leaderboard,
    Diff(String, String),
    Help,
    Quit,
}

/// `/provider`: one routing preference (§2.3 of the API notes), or `off` to clear them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderPref {
    /// `order`: provider slugs to try in order.
    Order(Vec<String>),
    /// `allow_fallbacks`.
    Fallbacks(bool),
    /// `data_collection`: `allow` or `deny`.
    DataCollection(String),
    /// `sort`: `price`, `throughput` or `latency`.
    Sort(String),
    Clear,
}

/// `/branch`: list the branches, or switch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BranchArg {
    List,
    Next,
    Prev,
    /// The Nth branch (1-based, oldest first).
    Nth(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Markdown,
    Json,
}

pub struct CommandSpec {
    pub name: &'static str,
    pub args: &'static str,
    pub help: &'static str,
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec { name: "add", args: "MODEL…", help: "add panes for models (no argument: open the picker)" },
    CommandSpec { name: "models", args: "", help: "pick a model from the catalog (Ctrl+N)" },
    CommandSpec { name: "remove", args: "[N]", help: "remove pane N (default: the focused pane)" },
    CommandSpec { name: "stop", args: "[N|all]", help: "stop streaming in pane N, or all (Esc)" },
    CommandSpec { name: "retry", args: "[N|all]", help: "ask again for the last answer (Ctrl+R)" },
    CommandSpec { name: "new", args: "", help: "start a new room with the same models" },
    CommandSpec { name: "clear", args: "", help: "clear the panes (history stays saved) (Ctrl+L)" },
    CommandSpec { name: "system", args: "[N|all] TEXT", help: "set the system prompt (empty clears it)" },
    CommandSpec { name: "temp", args: "[N|all] T|off", help: "set the sampling temperature" },
    CommandSpec { name: "max", args: "[N|all] TOKENS|off", help: "set the maximum answer length" },
    CommandSpec {
        name: "reasoning",
        args: "[N|all] off|minimal|low|medium|high|default",
        help: "set the reasoning effort (only where the catalog lists reasoning)",
    },
    CommandSpec {
        name: "web",
        args: "[N|all] on|off",
        help: "search the web for answers, with numbered sources (OpenRouter models)",
    },
    CommandSpec {
        name: "json",
        args: "[N|all] on|off [SCHEMA_FILE]",
        help: "ask for JSON (following a JSON Schema file), checked and shown indented",
    },
    CommandSpec {
        name: "attach",
        args: "PATH…|off",
        help: "send images (PNG, JPEG, WebP, GIF) or PDFs with the next prompt",
    },
    CommandSpec {
        name: "provider",
        args: "[N|all] order SLUG,…|fallbacks on|off|data allow|deny|sort price|throughput|latency|off",
        help: "OpenRouter routing preferences for a pane",
    },
    CommandSpec { name: "theme", args: "[NAME]", help: "switch colour theme (no argument: next) (F4)" },
    CommandSpec { name: "copy", args: "[N]", help: "copy the focused answer, or its Nth code block (Alt+C)" },
    CommandSpec { name: "select", args: "", help: "select lines with the keyboard, y copies (Alt+V)" },
    CommandSpec { name: "mouse", args: "", help: "toggle mouse capture for the terminal's own selection (F3)" },
    CommandSpec { name: "export", args: "[md|json] [PATH]", help: "export the room to Markdown or JSON" },
    CommandSpec { name: "sync", args: "", help: "scroll all panes together (Alt+S)" },
    CommandSpec { name: "zoom", args: "[N]", help: "show one pane full width, again to go back (Alt+Z)" },
    CommandSpec { name: "layout", args: "[grid|columns|stacked]", help: "arrange the panes (no argument: the next)" },
    CommandSpec { name: "adopt", args: "[N]", help: "make pane N's answer every pane's answer (Alt+A)" },
    CommandSpec { name: "tools", args: "[NAME,…|off]", help: "enable tools for the room (no argument: list them)" },
    CommandSpec {
        name: "rooms",
        args: "",
        help: "browse earlier rooms: type to search, Enter opens, r renames, d deletes (Ctrl+O)",
    },
    CommandSpec {
        name: "edit",
        args: "[TURN]",
        help: "edit an earlier prompt (default: the last); sending it starts a branch",
    },
    CommandSpec {
        name: "branch",
        args: "[next|prev|N]",
        help: "list the room's branches, or switch to another (Alt+←/→)",
    },
    CommandSpec { name: "rename", args: "TITLE", help: "rename this room" },
    CommandSpec {
        name: "analyze",
        args: "[MODEL]",
        help: "an analyst model compares the last answers: agreements, contradictions, errors, best",
    },
    CommandSpec { name: "attempts", args: "", help: "show answers replaced by a retry whole, or fold them again" },
    CommandSpec { name: "blind", args: "", help: "blind round: panes become Model A, B, … until you vote" },
    CommandSpec { name: "vote", args: "A|N|tie|bad", help: "vote on the last answers (Alt+1…9 in a blind round)" },
    CommandSpec { name: "tag", args: "[TAG|off]", help: "file the next vote under a tag (code, writing, …)" },
    CommandSpec { name: "leaderboard", args: "", help: "your models ranked by your votes (Bradley–Terry)" },
    CommandSpec { name: "diff", args: "A B", help: "word diff of two panes' last answers" },
    CommandSpec { name: "help", args: "", help: "keys and commands (F1)" },
    CommandSpec { name: "quit", args: "", help: "leave roundtable (Ctrl+Q)" },
];

/// How a prompt can be sent (F1 and the README list these).
pub const SEND_FORMS: &[(&str, &str)] = &[
    ("TEXT", "every pane; a busy pane gets it when its answer ends (\"next prompt queued\")"),
    ("@2 TEXT", "pane 2 only"),
    ("@1,3 TEXT", "panes 1 and 3 only"),
    ("/edit N, then Enter", "resend an edited prompt N as a new branch; /branch switches back"),
];

/// Commands whose name starts with what was typed after `/`, best first.
pub fn completions(typed: &str) -> Vec<&'static CommandSpec> {
    let word = typed.trim_start_matches('/').split_whitespace().next().unwrap_or("");
    let mut out: Vec<&CommandSpec> = COMMANDS.iter().filter(|c| c.name.starts_with(word)).collect();
    if out.is_empty() {
        out = COMMANDS.iter().filter(|c| c.name.contains(word)).collect();
    }
    out
}

/// Parse `/name args…`. Errors say what was expected.
pub fn parse(line: &str) -> Result<Cmd, String> {
    let line = line.trim();
    let body = line.strip_prefix('/').ok_or("commands start with /")?;
    let (name, rest) = body.split_once(char::is_whitespace).unwrap_or((body, ""));
    let rest = rest.trim();
    // Only exact names run: a partial one is completed by the palette, never guessed here
    // (`/re` must not remove a pane, `/q x` must not quit).
    let spec = match COMMANDS.iter().find(|c| c.name == name) {
        Some(spec) => spec,
        None => {
            let near: Vec<String> = completions(name).iter().take(3).map(|c| format!("/{}", c.name)).collect();
            return Err(if near.is_empty() {
                format!("No command /{name}: type / to see them all")
            } else {
                format!("No command /{name}: did you mean {}? (Tab completes)", near.join(", "))
            });
        }
    };
    let usage = || format!("usage: /{} {}", spec.name, spec.args);
    Ok(match spec.name {
        "add" if rest.is_empty() => Cmd::Picker,
        "add" => Cmd::Add(rest.split_whitespace().map(str::to_owned).collect()),
        "models" => Cmd::Picker,
        "remove" => Cmd::Remove(which(rest).map_err(|_| usage())?),
        "stop" => Cmd::Stop(if rest.is_empty() { Which::All } else { which(rest).map_err(|_| usage())? }),
        "retry" => Cmd::Retry(which(rest).map_err(|_| usage())?),
        "new" => Cmd::New,
        "clear" => Cmd::Clear,
        "system" => {
            let (w, text) = leading_which(rest);
            if rest.parse::<usize>().is_ok() {
                return Err(format!(
                    "Give the system prompt after the pane: /system {rest} be brief (or /system {rest} off to clear it)"
                ));
            }
            Cmd::System(w, if text == "off" { String::new() } else { text.to_string() })
        }
        "temp" => {
            let (w, value) = leading_which(rest);
            Cmd::Temperature(w, optional_number(value).map_err(|_| usage())?)
        }
        "max" => {
            let (w, value) = leading_which(rest);
            Cmd::MaxTokens(w, optional_number(value).map_err(|_| usage())?)
        }
        "reasoning" => {
            let (w, level) = leading_which(rest);
            Cmd::Reasoning(w, reasoning_level(level).ok_or_else(usage)?)
        }
        "web" => {
            let (w, value) = leading_which(rest);
            Cmd::Web(
                w,
                match value {
                    "on" | "" => true,
                    "off" => false,
                    _ => return Err(usage()),
                },
            )
        }
        "json" => {
            let (w, value) = leading_which(rest);
            let (switch, file) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
            Cmd::Json(
                w,
                match (switch, file.trim()) {
                    ("off", "") => None,
                    ("on" | "", "") => Some(None),
                    ("on", file) => Some(Some(file.to_string())),
                    _ => return Err(usage()),
                },
            )
        }
        "attach" if rest.is_empty() => return Err(usage()),
        "attach" if rest == "off" || rest == "none" => Cmd::Attach(None),
        "attach" => Cmd::Attach(Some(rest.split_whitespace().map(str::to_owned).collect())),
        "provider" => {
            let (w, value) = leading_which(rest);
            let (field, arg) = value.split_once(char::is_whitespace).unwrap_or((value, ""));
            let pref = match (field, arg.trim()) {
                ("off", "") => ProviderPref::Clear,
                ("order", slugs) if !slugs.is_empty() => ProviderPref::Order(
                    slugs.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_ascii_lowercase).collect(),
                ),
                ("fallbacks", "on") => ProviderPref::Fallbacks(true),
                ("fallbacks", "off") => ProviderPref::Fallbacks(false),
                ("data", d @ ("allow" | "deny")) => ProviderPref::DataCollection(d.into()),
                ("sort", s @ ("price" | "throughput" | "latency")) => ProviderPref::Sort(s.into()),
                _ => return Err(usage()),
            };
            Cmd::Provider(w, pref)
        }
        "theme" => Cmd::Theme(Some(rest.to_string()).filter(|s| !s.is_empty())),
        "copy" if rest.is_empty() => Cmd::Copy(None),
        "copy" => Cmd::Copy(Some(rest.parse().ok().filter(|n| *n > 0).ok_or_else(usage)?)),
        "select" => Cmd::Select,
        "mouse" => Cmd::Mouse,
        "export" => {
            let mut words = rest.split_whitespace();
            let first = words.next();
            let (format, path) = match first {
                Some("md" | "markdown") => (ExportFormat::Markdown, words.next()),
                Some("json") => (ExportFormat::Json, words.next()),
                Some(p) if p.ends_with(".json") => (ExportFormat::Json, Some(p)),
                other => (ExportFormat::Markdown, other),
            };
            Cmd::Export { format, path: path.map(str::to_owned) }
        }
        "sync" => Cmd::Sync,
        "zoom" => Cmd::Zoom(which(rest).map_err(|_| usage())?),
        "layout" if rest.is_empty() => Cmd::Layout(None),
        "layout" => Cmd::Layout(Some(crate::ui::layout::LayoutMode::parse(rest).ok_or_else(usage)?)),
        "adopt" => Cmd::Adopt(which(rest).map_err(|_| usage())?),
        "tools" if rest.is_empty() => Cmd::Tools(None),
        "tools" if rest == "off" || rest == "none" => Cmd::Tools(Some(Vec::new())),
        "tools" => Cmd::Tools(Some(rest.split([',', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect())),
        "rooms" => Cmd::Rooms,
        "edit" if rest.is_empty() => Cmd::Edit(None),
        "edit" => Cmd::Edit(Some(rest.parse().ok().filter(|n| *n > 0).ok_or_else(usage)?)),
        "branch" => Cmd::Branch(match rest {
            "" | "list" => BranchArg::List,
            "next" => BranchArg::Next,
            "prev" | "previous" => BranchArg::Prev,
            n => BranchArg::Nth(n.parse().ok().filter(|n| *n > 0).ok_or_else(usage)?),
        }),
        "blind" => Cmd::Blind,
        "attempts" => Cmd::Attempts,
        "analyze" | "analyse" => Cmd::Analyze(Some(rest.to_string()).filter(|s| !s.is_empty())),
        "vote" => Cmd::Vote(crate::core::compare::parse_vote_arg(rest)?),
        "tag" if rest.is_empty() || rest == "off" => Cmd::Tag(None),
        "tag" => Cmd::Tag(Some(rest.to_string())),
        "leaderboard" => Cmd::Leaderboard,
        "diff" => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [a, b] => Cmd::Diff(a.to_string(), b.to_string()),
            _ => return Err(usage()),
        },
        "rename" if rest.is_empty() => return Err(usage()),
        "rename" => Cmd::Rename(rest.to_string()),
        "help" => Cmd::Help,
        "quit" if !rest.is_empty() => return Err(usage()),
        "quit" => Cmd::Quit,
        _ => return Err(usage()),
    })
}

fn which(s: &str) -> Result<Which, ()> {
    match s.trim() {
        "" => Ok(Which::Focused),
        "all" | "*" => Ok(Which::All),
        n => n.parse::<usize>().ok().filter(|n| *n > 0).map(|n| Which::Pane(n - 1)).ok_or(()),
    }
}

/// An optional pane selector at the start of the arguments: `2 text`, `all text`, `text`.
fn leading_which(s: &str) -> (Which, &str) {
    let (first, rest) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    match which(first) {
        Ok(w) if !first.is_empty() && (!rest.is_empty() || first == "all") => (w, rest.trim()),
        _ => (Which::All, s),
    }
}

/// `off` is sent as effort `none`; `default` clears the setting (the model's own default).
fn reasoning_level(s: &str) -> Option<Option<String>> {
    match s.trim() {
        "off" | "none" => Some(Some("none".into())),
        "default" => Some(None),
        level @ ("minimal" | "low" | "medium" | "high") => Some(Some(level.into())),
        _ => None,
    }
}

fn optional_number<T: std::str::FromStr>(s: &str) -> Result<Option<T>, ()> {
    match s.trim() {
        "off" | "default" | "" => Ok(None),
        n => n.parse().map(Some).map_err(|_| ()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_exact_names_run_and_arguments_are_checked() {
        assert!(parse("/re").unwrap_err().contains("/remove"), "a partial name is not guessed");
        assert!(parse("/q x").is_err());
        assert!(parse("/quit now").is_err());
        assert!(parse("/system 2").unwrap_err().contains("/system 2 be brief"));
        assert_eq!(parse("/system 2 off").unwrap(), Cmd::System(Which::Pane(1), String::new()));
        assert_eq!(parse("/edit 3").unwrap(), Cmd::Edit(Some(3)));
        assert_eq!(parse("/branch prev").unwrap(), Cmd::Branch(BranchArg::Prev));
        assert_eq!(parse("/branch 2").unwrap(), Cmd::Branch(BranchArg::Nth(2)));
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(parse("/add a/b c/d").unwrap(), Cmd::Add(vec!["a/b".into(), "c/d".into()]));
        assert_eq!(parse("/add").unwrap(), Cmd::Picker);
        assert_eq!(parse("/stop").unwrap(), Cmd::Stop(Which::All));
        assert_eq!(parse("/stop 2").unwrap(), Cmd::Stop(Which::Pane(1)));
        assert_eq!(parse("/system 2 be brief").unwrap(), Cmd::System(Which::Pane(1), "be brief".into()));
        assert_eq!(parse("/system be brief").unwrap(), Cmd::System(Which::All, "be brief".into()));
        assert_eq!(parse("/temp 0.2").unwrap(), Cmd::Temperature(Which::All, Some(0.2)));
        assert_eq!(parse("/temp 3 off").unwrap(), Cmd::Temperature(Which::Pane(2), None));
        assert_eq!(parse("/max all 500").unwrap(), Cmd::MaxTokens(Which::All, Some(500)));
        assert_eq!(parse("/copy 2").unwrap(), Cmd::Copy(Some(2)));
        assert_eq!(
            parse("/export json out.json").unwrap(),
            Cmd::Export { format: ExportFormat::Json, path: Some("out.json".into()) }
        );
        assert_eq!(
            parse("/tools calculator,current_time").unwrap(),
            Cmd::Tools(Some(vec!["calculator".into(), "current_time".into()]))
        );
        assert_eq!(parse("/layout").unwrap(), Cmd::Layout(None));
        assert_eq!(parse("/layout columns").unwrap(), Cmd::Layout(Some(crate::ui::layout::LayoutMode::Columns)));
        assert!(parse("/layout diagonal").unwrap_err().contains("usage: /layout"));
        assert!(parse("/q").is_err(), "a prefix is completed by the palette, never run");
        assert_eq!(parse("/reasoning 2 high").unwrap(), Cmd::Reasoning(Which::Pane(1), Some("high".into())));
        assert_eq!(parse("/reasoning off").unwrap(), Cmd::Reasoning(Which::All, Some("none".into())));
        assert_eq!(parse("/reasoning all default").unwrap(), Cmd::Reasoning(Which::All, None));
        assert!(parse("/reasoning 2 extreme").unwrap_err().contains("usage: /reasoning"));
        assert_eq!(parse("/web").unwrap(), Cmd::Web(Which::All, true));
        assert_eq!(parse("/web 2 off").unwrap(), Cmd::Web(Which::Pane(1), false));
        assert!(parse("/web maybe").is_err());
        assert_eq!(parse("/json 2 on s.json").unwrap(), Cmd::Json(Which::Pane(1), Some(Some("s.json".into()))));
        assert_eq!(parse("/json off").unwrap(), Cmd::Json(Which::All, None));
        assert_eq!(parse("/json").unwrap(), Cmd::Json(Which::All, Some(None)));
        assert!(parse("/json s.json").is_err(), "the file follows `on`");
        assert_eq!(
            parse("/provider 2 order Anthropic,openai").unwrap(),
            Cmd::Provider(Which::Pane(1), ProviderPref::Order(vec!["anthropic".into(), "openai".into()]))
        );
        assert_eq!(
            parse("/provider sort price").unwrap(),
            Cmd::Provider(Which::All, ProviderPref::Sort("price".into()))
        );
        assert!(parse("/provider sort cheapest").is_err());
        assert_eq!(parse("/attach a.png b.pdf").unwrap(), Cmd::Attach(Some(vec!["a.png".into(), "b.pdf".into()])));
        assert_eq!(parse("/attach off").unwrap(), Cmd::Attach(None));
    }

    #[test]
    fn mistakes_get_usage() {
        assert!(parse("/remove x").unwrap_err().contains("usage: /remove"));
        assert!(parse("/temp hot").unwrap_err().contains("usage: /temp"));
        assert!(parse("/frobnicate").unwrap_err().contains("No command"));
        assert!(parse("/s").is_err(), "ambiguous prefix: stop, system, select, sync");
        assert!(parse("/copy 0").is_err());
    }

    #[test]
    fn completion_narrows_by_prefix() {
        let names: Vec<&str> = completions("/s").iter().map(|c| c.name).collect();
        assert_eq!(names, ["stop", "system", "select", "sync"]);
        assert_eq!(completions("/").len(), COMMANDS.len());
    }
}
