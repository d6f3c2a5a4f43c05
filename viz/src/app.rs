//! UI state and keys. State changes only here, never while rendering.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// Live run or recorded run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `paraverse watch`: the CLI steps a universe.
    Live,
    /// `paraverse replay`: the CLI reads a run's files.
    Replay,
}

/// Whose eyes the screen shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Ground truth: the attacker's progress.
    Red,
    /// What the defenders' sensors see.
    Blue,
}

/// What a key asks the CLI to do (beyond UI state, which [`App`] handles itself).
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Nothing for the CLI.
    None,
    /// Leave.
    Quit,
    /// Advance one tick (while paused).
    Step,
    /// Start again with the next seed (live).
    Restart,
    /// Move the replay by this many ticks.
    Seek(i64),
    /// Move the replay by this share of the run (e.g. 0.1 forward, -0.1 back).
    SeekShare(f64),
    /// Jump the replay to this share of the run (0 start, 1 end).
    SeekTo(f64),
    /// An exercise command typed at the `:` prompt (live), e.g. `quarantine lobby`.
    Command(String),
}

/// Speeds, in simulated seconds per wall-clock second; `None`: as fast as it goes.
pub const SPEEDS: [Option<f64>; 13] = [
    Some(1.0),
    Some(2.0),
    Some(5.0),
    Some(10.0),
    Some(30.0),
    Some(60.0),
    Some(120.0),
    Some(300.0),
    Some(600.0),
    Some(1800.0),
    Some(3600.0),
    Some(7200.0),
    None,
];

/// The speed a screen starts at: 5 simulated minutes per second (a 4-hour run in 48 s).
const DEFAULT_SPEED: usize = 7;

/// A speed as the header shows it, in simulated time per second: `1 min/s`, `max`.
pub fn speed_label(speed: Option<f64>) -> String {
    match speed {
        None => "max".into(),
        Some(s) if s < 60.0 => format!("{s} s/s"),
        Some(s) if s < 3600.0 => format!("{} min/s", s / 60.0),
        Some(s) => format!("{} h/s", s / 3600.0),
    }
}

/// Turns wall-clock time into ticks at a speed in simulated time: each frame asks how
/// many ticks are due since the last, so a slow frame catches up and a paused screen
/// owes nothing.
#[derive(Debug, Clone)]
pub struct Pace {
    last: std::time::Instant,
    owed_s: f64,
}

impl Default for Pace {
    fn default() -> Self {
        Self::new()
    }
}

impl Pace {
    /// Starts owing nothing.
    pub fn new() -> Self {
        Self {
            last: std::time::Instant::now(),
            owed_s: 0.0,
        }
    }

    /// Ticks of `tick_s` due now at `speed` (`None`: as fast as it goes, `u32::MAX`), or
    /// 0 while paused. At most `cap` at once, so a screen never stalls catching up.
    pub fn due(&mut self, speed: Option<f64>, tick_s: f64, paused: bool, cap: u32) -> u32 {
        let now = std::time::Instant::now();
        let wall = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        let Some(speed) = speed else {
            self.owed_s = 0.0;
            return if paused { 0 } else { u32::MAX };
        };
        if paused || tick_s <= 0.0 {
            self.owed_s = 0.0;
            return 0;
        }
        self.owed_s += wall * speed;
        let ticks = (self.owed_s / tick_s).floor().min(f64::from(cap));
        self.owed_s = (self.owed_s - ticks * tick_s).min(tick_s * f64::from(cap));
        ticks as u32
    }
}

/// The keys [`App::handle_key`] understands, as `paraverse watch --help` and `replay
/// --help` print them: keep the two together.
pub const KEYS: &str = "\
Keys:
  space        pause / resume
  n            one tick (and pause)
  + or =, -    faster, slower: 1 simulated s per s (slow motion) to 2 h per s,
               then as fast as it goes
  Tab          red view (ground truth) / blue view (sensors only)
  m            network map / charts (watch): nodes by state, attacked links
  t            twin screen / run (watch --twin): the twin following this run's
               blue-team feed, its estimate against the alerts and the truth
  /            filter the events (type, Enter applies, Esc cancels)
  :            act (watch): a command, Enter acts, Esc cancels; blue:
               quarantine|release|patch|harden|revoke GROUP|NODE,
               isolate|reconnect ZONE [ZONE] (cut zones apart),
               strategy NAME|FILE (deploy it from the next tick);
               red: exploit GROUP|NODE [CAMPAIGN], launch CAMPAIGN
  Up, Down     scroll the events (Up: older)
  r            restart with the next seed (watch)
  Left, Right  one tick back, forward (replay)
  PgUp, PgDn   10 % of the run back, forward (replay)
  Home, End    the start, the end (replay)
  ?            this list (? or Esc closes it)
  q or Esc     quit (also Ctrl-C)";

/// The UI's state.
#[derive(Debug, Clone)]
pub struct App {
    /// Live or replay.
    pub mode: Mode,
    /// Red or blue view.
    pub view: View,
    /// Paused.
    pub paused: bool,
    speed: usize,
    /// Event-log filter (case-insensitive substring), applied.
    pub filter: String,
    /// Filter text being typed, while the `/` prompt is open.
    pub editing: Option<String>,
    /// How many of the newest event lines are scrolled out of view (0: follow the end).
    pub scroll: usize,
    /// The key list ([`KEYS`]) is open over the screen.
    pub help: bool,
    /// An exercise command being typed, while the `:` prompt is open.
    pub command: Option<String>,
    /// What the last command did (or why it was refused), shown on the bottom line.
    pub status: Option<String>,
    /// The score screen's lines, once the exercise is over (the CLI fills them).
    pub score: Option<Vec<String>>,
    /// The network map instead of the charts (live).
    pub map: bool,
    /// The twin screen (`paraverse watch --twin`): `None` without a twin, else whether it
    /// is shown instead of the run's screen.
    pub twin: Option<bool>,
}

impl App {
    /// A fresh UI: red view, running at 5 simulated minutes per second.
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            view: View::Red,
            paused: false,
            speed: DEFAULT_SPEED,
            filter: String::new(),
            editing: None,
            scroll: 0,
            help: false,
            command: None,
            status: None,
            score: None,
            map: false,
            twin: None,
        }
    }

    /// The events filter in force: the text being typed at the `/` prompt, else the one
    /// applied.
    pub fn events_filter(&self) -> &str {
        self.editing.as_deref().unwrap_or(&self.filter)
    }

    /// Simulated seconds per wall-clock second (`None`: as fast as it goes).
    pub fn speed(&self) -> Option<f64> {
        SPEEDS[self.speed]
    }

    /// Handles a key; returns what the CLI should do.
    pub fn handle_key(&mut self, key: KeyEvent) -> Action {
        if key.kind == KeyEventKind::Release {
            return Action::None;
        }
        if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
            return Action::Quit;
        }
        // The bottom line's message stays until the next key.
        self.status = None;
        if let Some(text) = self.command.as_mut() {
            match key.code {
                KeyCode::Enter => {
                    let text = self.command.take().unwrap_or_default();
                    return if text.trim().is_empty() {
                        Action::None
                    } else {
                        Action::Command(text.trim().to_owned())
                    };
                }
                KeyCode::Esc => self.command = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Action::None;
        }
        if let Some(text) = self.editing.as_mut() {
            match key.code {
                KeyCode::Enter => {
                    self.filter = self.editing.take().unwrap_or_default();
                }
                KeyCode::Esc => self.editing = None,
                KeyCode::Backspace => {
                    text.pop();
                }
                KeyCode::Char(c) => text.push(c),
                _ => {}
            }
            return Action::None;
        }
        if self.help && matches!(key.code, KeyCode::Char('?') | KeyCode::Esc) {
            self.help = false;
            return Action::None;
        }
        match key.code {
            KeyCode::Char('?') => {
                self.help = true;
                Action::None
            }
            KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
            KeyCode::Char(' ') => {
                self.paused = !self.paused;
                Action::None
            }
            KeyCode::Char('n') => {
                self.paused = true;
                Action::Step
            }
            KeyCode::Char('+') | KeyCode::Char('=') => {
                self.speed = (self.speed + 1).min(SPEEDS.len() - 1);
                Action::None
            }
            KeyCode::Char('-') => {
                self.speed = self.speed.saturating_sub(1);
                Action::None
            }
            KeyCode::Tab => {
                self.view = match self.view {
                    View::Red => View::Blue,
                    View::Blue => View::Red,
                };
                Action::None
            }
            KeyCode::Char('/') => {
                self.editing = Some(self.filter.clone());
                Action::None
            }
            KeyCode::Char('m') if self.mode == Mode::Live => {
                self.map = !self.map;
                Action::None
            }
            KeyCode::Char('m') => {
                self.status = Some(
                    "the map needs a live run: a run's files do not keep every node's state".into(),
                );
                Action::None
            }
            KeyCode::Char('t') => {
                match &mut self.twin {
                    Some(shown) => *shown = !*shown,
                    None => {
                        self.status = Some(
                            "no twin follows this run: start it with `paraverse watch --twin`"
                                .into(),
                        );
                    }
                }
                Action::None
            }
            KeyCode::Char(':') if self.mode == Mode::Live => {
                self.command = Some(String::new());
                self.status = None;
                Action::None
            }
            KeyCode::Up => {
                self.scroll += 1;
                Action::None
            }
            KeyCode::Down => {
                self.scroll = self.scroll.saturating_sub(1);
                Action::None
            }
            KeyCode::Char('r') if self.mode == Mode::Live => Action::Restart,
            KeyCode::Right if self.mode == Mode::Replay => Action::Seek(1),
            KeyCode::Left if self.mode == Mode::Replay => Action::Seek(-1),
            KeyCode::PageDown if self.mode == Mode::Replay => Action::SeekShare(0.1),
            KeyCode::PageUp if self.mode == Mode::Replay => Action::SeekShare(-0.1),
            KeyCode::Home if self.mode == Mode::Replay => Action::SeekTo(0.0),
            KeyCode::End if self.mode == Mode::Replay => Action::SeekTo(1.0),
            _ => Action::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    #[test]
    fn t_shows_the_twin_screen_only_where_a_twin_follows_the_run() {
        let mut app = App::new(Mode::Live);
        assert_eq!(app.handle_key(key(KeyCode::Char('t'))), Action::None);
        assert_eq!(app.twin, None);
        assert!(app.status.as_deref().unwrap().contains("--twin"));
        app.twin = Some(false);
        app.handle_key(key(KeyCode::Char('t')));
        assert_eq!(app.twin, Some(true));
        app.handle_key(key(KeyCode::Char('t')));
        assert_eq!(app.twin, Some(false));
    }

    #[test]
    fn question_mark_opens_the_key_list_and_closes_it_without_quitting() {
        let mut app = App::new(Mode::Live);
        assert_eq!(app.handle_key(key(KeyCode::Char('?'))), Action::None);
        assert!(app.help);
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None, "closes");
        assert!(!app.help);
        app.handle_key(key(KeyCode::Char('?')));
        app.handle_key(key(KeyCode::Char('?')));
        assert!(!app.help);
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::Quit);
    }

    #[test]
    fn keys_change_state_and_ask_for_actions() {
        let mut app = App::new(Mode::Live);
        assert_eq!(app.handle_key(key(KeyCode::Char(' '))), Action::None);
        assert!(app.paused);
        assert_eq!(app.handle_key(key(KeyCode::Char('n'))), Action::Step);
        assert_eq!(app.speed(), Some(300.0));
        app.handle_key(key(KeyCode::Char('+')));
        app.handle_key(key(KeyCode::Char('+')));
        assert_eq!(app.speed(), Some(1800.0));
        app.handle_key(key(KeyCode::Char('-')));
        assert_eq!(app.speed(), Some(600.0));
        for _ in 0..20 {
            app.handle_key(key(KeyCode::Char('-')));
        }
        assert_eq!(
            app.speed(),
            Some(1.0),
            "slow motion: one simulated second a second"
        );
        for _ in 0..20 {
            app.handle_key(key(KeyCode::Char('+')));
        }
        assert_eq!(app.speed(), None, "then as fast as it goes");
        assert_eq!(speed_label(Some(60.0)), "1 min/s");
        assert_eq!(speed_label(Some(5.0)), "5 s/s");
        assert_eq!(speed_label(Some(7200.0)), "2 h/s");
        assert_eq!(speed_label(None), "max");
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.view, View::Blue);
        app.handle_key(key(KeyCode::Char('/')));
        for c in "quar".chars() {
            app.handle_key(key(KeyCode::Char(c)));
        }
        assert_eq!(
            app.handle_key(key(KeyCode::Char('q'))),
            Action::None,
            "typing, not quitting"
        );
        app.handle_key(key(KeyCode::Backspace));
        app.handle_key(key(KeyCode::Enter));
        assert_eq!(app.filter, "quar");
        assert_eq!(app.handle_key(key(KeyCode::Char('r'))), Action::Restart);
        app.handle_key(key(KeyCode::Up));
        app.handle_key(key(KeyCode::Up));
        app.handle_key(key(KeyCode::Down));
        assert_eq!(app.scroll, 1);
        assert_eq!(
            app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Action::Quit
        );
        assert_eq!(app.handle_key(key(KeyCode::Char('q'))), Action::Quit);
    }

    #[test]
    fn colon_types_a_command_that_enter_hands_to_the_cli() {
        let mut app = App::new(Mode::Live);
        app.handle_key(key(KeyCode::Char(':')));
        for c in "patch q 1x".chars() {
            assert_eq!(app.handle_key(key(KeyCode::Char(c))), Action::None);
        }
        app.handle_key(key(KeyCode::Backspace));
        assert_eq!(
            app.handle_key(key(KeyCode::Enter)),
            Action::Command("patch q 1".into())
        );
        assert_eq!(app.command, None);
        app.handle_key(key(KeyCode::Char(':')));
        app.handle_key(key(KeyCode::Char('x')));
        assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None, "cancels");
        assert_eq!(app.command, None);
        let mut replay = App::new(Mode::Replay);
        replay.handle_key(key(KeyCode::Char(':')));
        assert_eq!(replay.command, None, "a replay takes no commands");
    }

    #[test]
    fn pace_turns_wall_time_into_ticks_at_the_speed() {
        let mut pace = Pace::new();
        pace.last -= std::time::Duration::from_millis(1000);
        // 1 s of wall time at 60 simulated s per s, ticks of 10 s: 6 ticks.
        assert_eq!(pace.due(Some(60.0), 10.0, false, 100), 6);
        pace.last -= std::time::Duration::from_millis(500);
        // Slow motion: 0.5 s at 1 s/s owes half a tick of 1 s... then the rest.
        assert_eq!(pace.due(Some(1.0), 1.0, false, 100), 0);
        pace.last -= std::time::Duration::from_millis(600);
        assert_eq!(pace.due(Some(1.0), 1.0, false, 100), 1);
        pace.last -= std::time::Duration::from_secs(100);
        assert_eq!(pace.due(Some(60.0), 1.0, false, 50), 50, "capped");
        pace.last -= std::time::Duration::from_secs(100);
        assert_eq!(
            pace.due(Some(60.0), 1.0, true, 50),
            0,
            "paused owes nothing"
        );
        assert_eq!(pace.due(Some(60.0), 1.0, false, 50), 0);
        assert_eq!(pace.due(None, 1.0, false, 50), u32::MAX);
    }

    #[test]
    fn replay_keys_seek() {
        let mut app = App::new(Mode::Replay);
        assert_eq!(app.handle_key(key(KeyCode::Right)), Action::Seek(1));
        assert_eq!(app.handle_key(key(KeyCode::Home)), Action::SeekTo(0.0));
        assert_eq!(app.handle_key(key(KeyCode::Char('r'))), Action::None);
    }
}
