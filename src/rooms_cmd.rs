//! `roundtable rooms`: earlier rooms newest first, one room whole (`show`), full-text search over
//! prompts and answers (`search`), and deleting a room (`rm`). Reads the same room data the
//! chatroom shows and `--resume` reopens.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use crate::core::room::{self, RoomSetup};
use crate::core::store::{self, RoomId, StoreError};
use crate::paths::Paths;
use crate::present;

#[derive(Debug, Args)]
pub struct RoomsArgs {
    #[command(subcommand)]
    pub command: Option<RoomsCommand>,
    /// One JSON object per room (with `show` and `search`: their JSON).
    #[arg(long, global = true)]
    pub json: bool,
    /// How many rooms to list.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// The demo mode's rooms (kept apart from the real history).
    #[arg(long, global = true)]
    pub demo: bool,
}

#[derive(Debug, Subcommand)]
pub enum RoomsCommand {
    /// One room whole: panes and settings, every turn and branch, every answer with usage, cost,
    /// finish reason, timings, tool calls and errors.
    Show {
        /// The room's id (from `roundtable rooms`), or `last`.
        room: String,
        /// Markdown, as `/export md` writes it.
        #[arg(long, conflicts_with = "json")]
        md: bool,
    },
    /// Search prompts and answers of every room (words are AND-ed; "quotes" for a phrase).
    Search {
        #[arg(required = true, num_args = 1..)]
        text: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// Delete a room and its messages (the ledger keeps its rows: they are money spent).
    Rm {
        /// The room's id.
        room: String,
    },
}

/// `last` or a room id.
pub fn parse_room_ref(raw: &str) -> Result<Option<RoomId>, String> {
    match raw.trim() {
        "" | "last" => Ok(None),
        id => id
            .parse::<i64>()
            .map(|id| Some(RoomId(id)))
            .map_err(|_| format!("“{id}” is not a room id: `roundtable rooms` lists them (or use `last`)")),
    }
}

pub fn run(paths: &Paths, args: RoomsArgs) -> i32 {
    let data_dir = if args.demo { paths.demo().data_dir } else { paths.data_dir.clone() };
    let db = store::db_path(&data_dir);
    let mut out = std::io::stdout().lock();
    let result = match args.command {
        None => list(&db, &mut out, args.limit, args.json),
        Some(RoomsCommand::Show { room, md }) => show(&db, &mut out, &room, args.json, md),
        Some(RoomsCommand::Search { text, limit }) => search(&db, &mut out, &text.join(" "), limit, args.json),
        Some(RoomsCommand::Rm { room }) => remove(&db, &mut out, &room),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Store(StoreError::Missing { .. })) => {
            let hint = if args.demo { "" } else { " (demo rooms: add --demo)" };
            eprintln!("roundtable: no rooms yet: nothing has been saved in {}{hint}", data_dir.display());
            1
        }
        Err(Failure::Store(e)) => {
            eprintln!("roundtable: {e}");
            1
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("roundtable: {msg}");
            2
        }
    }
}

enum Failure {
    Store(StoreError),
    Usage(String),
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

fn list(db: &std::path::Path, out: &mut impl Write, limit: usize, as_json: bool) -> Result<i32, Failure> {
    let rooms = store::list_rooms(db, limit)?;
    if as_json {
        for r in &rooms {
            let v = json!({"id": r.id.0, "title": r.title, "headless": r.headless, "created_at": iso(r.created_at_ms),
                "updated_at": iso(r.updated_at_ms), "models": r.models, "turns": r.turns, "requests": r.requests,
                "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
                "cost_usd": r.cost_usd.normalize().to_string()});
            let _ = writeln!(out, "{v}");
        }
        return Ok(0);
    }
    if rooms.is_empty() {
        let _ = writeln!(out, "No rooms yet.");
        return Ok(0);
    }
    let _ =
        writeln!(out, "{:<20} {:<16} {:>5} {:>9} {:>10}  title · models", "id", "updated", "turns", "tokens", "cost");
    for r in &rooms {
        let title = crate::core::sanitize::strip_controls(&r.title).into_owned();
        let kind = if r.headless { " [ask]" } else { "" };
        let _ = writeln!(
            out,
            "{:<20} {:<16} {:>5} {:>9} {:>10}  {}{kind} · {}",
            r.id.0,
            present::date_time_ms(r.updated_at_ms),
            r.turns,
            present::tokens(r.prompt_tokens.saturating_add(r.completion_tokens)),
            present::usd(r.cost_usd),
            present::shorten(&title, 50),
            r.models.join(", ")
        );
    }
    let _ =
        writeln!(out, "\n`roundtable rooms show ID` prints one · `roundtable --resume ID` reopens it in the chatroom");
    Ok(0)
}

fn show(db: &std::path::Path, out: &mut impl Write, raw: &str, as_json: bool, md: bool) -> Result<i32, Failure> {
    let id = parse_room_ref(raw).map_err(Failure::Usage)?;
    let Some(stored) = room::load(db, id, false)? else {
        return Err(Failure::Usage(format!("There is no room {raw}: `roundtable rooms` lists them")));
    };
    let room = room::open_stored(RoomSetup::default(), stored);
    if as_json {
        let _ = writeln!(out, "{}", serde_json::to_string_pretty(&present::room::json(&room)).unwrap_or_default());
    } else if md {
        let _ = write!(out, "{}", present::room::markdown(&room));
    } else {
        let text = present::room::markdown(&room);
        let _ = write!(out, "{}", crate::core::sanitize::strip_controls(&text));
    }
    Ok(0)
}

fn search(db: &std::path::Path, out: &mut impl Write, text: &str, limit: usize, as_json: bool) -> Result<i32, Failure> {
    let hits = store::search_rooms(db, text, limit)?;
    if as_json {
        for h in &hits {
            let v = json!({"room": h.room.0, "room_title": h.room_title, "turn": h.turn.0,
                "pane": h.target.map(|t| t.0), "model": h.model, "snippet": h.snippet, "at": iso(h.at_ms)});
            let _ = writeln!(out, "{v}");
        }
        return Ok(if hits.is_empty() { 1 } else { 0 });
    }
    if hits.is_empty() {
        let _ = writeln!(out, "Nothing found for “{text}”.");
        return Ok(1);
    }
    for h in &hits {
        let who = h.model.clone().unwrap_or_else(|| "you".into());
        let line = format!("{} · {} · turn {} · {who}: {}", h.room.0, h.room_title, h.turn.0, h.snippet);
        let _ = writeln!(out, "{}", crate::core::sanitize::strip_controls(&line));
    }
    Ok(0)
}

fn remove(db: &std::path::Path, out: &mut impl Write, raw: &str) -> Result<i32, Failure> {
    let Some(id) = parse_room_ref(raw).map_err(Failure::Usage)? else {
        return Err(Failure::Usage("Name the room to delete by its id: `roundtable rooms` lists them".into()));
    };
    if store::load_room_records(db, id)?.is_none() {
        return Err(Failure::Usage(format!("There is no room {}: `roundtable rooms` lists them", id.0)));
    }
    let st = store::Store::open(db)?;
    st.delete_room(id);
    st.flush()?;
    let _ = writeln!(out, "Deleted room {}.", id.0);
    Ok(0)
}

fn iso(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_default()
}
