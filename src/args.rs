//! Command-line arguments (clap). Parsing only, into typed values: `main.rs` dispatches
//! them, `world.rs` turns [`WorldArgs`] into a scenario and a universe.

use std::path::PathBuf;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use paraverse_sim::traffic::BackendChoice;
use paraverse_sim::units::SimDuration;
use paraverse_viz::View;

/// paraverse: a parallel-security cyber range, a software twin of a metaverse network
/// where simulated attackers meet simulated defenders.
#[derive(Debug, Parser)]
#[command(name = "paraverse", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Exit status: 0 success, 1 runtime failure, 2 invalid input (scenario or arguments)."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario and write summary.json, timeseries.csv, events.jsonl.
    Run(RunArgs),
    /// Check scenario, strategy, experiment and mapping files (recognised by their
    /// sections) and report every problem with file, line, column and field.
    #[command(
        after_help = "Examples:\n  paraverse validate scenarios/*.toml strategies/*.toml experiments/*.toml mappings/*.toml\n  paraverse validate my-strategy.toml --scenario my-site.toml\n  paraverse validate zero-trust   # a bundled scenario or strategy by name"
    )]
    Validate {
        /// Files, or bundled scenario and strategy names.
        #[arg(required = true)]
        files: Vec<String>,
        /// The scenario strategy files are checked against (default: the bundled venue
        /// `metaverse-under-siege`, which the bundled strategies are written for).
        #[arg(long)]
        scenario: Option<String>,
    },
    /// Print the JSON Schema of scenario files (for editor completion).
    Schema {
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// The schema of observation lines (`paraverse twin --observations`) instead.
        #[arg(long)]
        observations: bool,
    },
    /// List the bundled scenarios.
    List,
    /// Write a commented starter scenario, NAME.toml, to edit into your own.
    #[command(
        after_help = "Example:\n  paraverse new my-venue && paraverse validate my-venue.toml && paraverse run my-venue.toml"
    )]
    New {
        /// Scenario name (letters, digits, `-`, `_`): the file is NAME.toml and results go
        /// to results/NAME-SEED/.
        name: String,
        /// Replace NAME.toml if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Print the data dictionary: every column of timeseries.csv (for this scenario: its
    /// zones, counters and gauges) and every field of summary.json and the lab's runs,
    /// with kind, unit and meaning.
    Metrics {
        /// Scenario file or bundled name (default: the embedded metaverse-campus scenario).
        scenario: Option<String>,
        /// Defense strategy file (its defenses register their own counters).
        #[arg(long)]
        strategy: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the defense parameters' search space (name, range, step) as JSON.
    Space,
    /// Measure node-ticks per second and bytes per node (build with --release).
    Bench(BenchArgs),
    /// Watch a scenario run live in the terminal (red and blue views), and play it as an
    /// exercise: blue and red act at the `:` prompt, --record keeps their commands.
    #[command(after_help = paraverse_viz::KEYS)]
    Watch(WatchArgs),
    /// Play a recorded run (a folder written by `paraverse run`) in the terminal, seekable.
    #[command(after_help = paraverse_viz::KEYS)]
    Replay {
        /// The run's folder, e.g. results/metaverse-campus-42.
        run_dir: PathBuf,
    },
    /// Run an experiment's points × replicas in parallel (resumable: rerun the same
    /// command after a kill) and write runs.csv, points.csv (mean, 95% CI),
    /// decisions.csv, effects.csv (sensitivity.csv for a saltelli design) and best.json.
    Sweep(SweepArgs),
    /// Search the experiment's `[optimise]` defense parameters for the Pareto front of
    /// security loss, availability and cost (NSGA-II); writes pareto.csv and best.json.
    Optimise {
        /// The experiment file (with an `[optimise]` table).
        experiment: PathBuf,
        /// Results root.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Worker threads, 1 to 4096 (default: all cores).
        #[arg(long, value_parser = threads())]
        threads: Option<u16>,
        /// No progress bar and no summary.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write report.md and a self-contained report.html with SVG and PNG charts: for a
    /// sweep, the best decision and its statement, objectives with 95% CIs, settings'
    /// effects, time series, the Pareto front; for one run, its objectives, kill chains,
    /// impact and node states over time.
    Report {
        /// A sweep's results folder (results/zero-trust-interval) or one run's
        /// (results/metaverse-campus-42).
        results_dir: PathBuf,
    },
    /// Merge an experiment's shard results (results/NAME/shard-*) into results/NAME/.
    Merge {
        /// The experiment file.
        experiment: PathBuf,
        /// Results root.
        #[arg(long, default_value = "results")]
        results: PathBuf,
        /// Output formats, comma-separated: csv (always written) and parquet.
        #[arg(long, default_value = "csv", value_parser = parse_formats)]
        format: paraverse_table::Formats,
    },
    /// Print a Slurm batch script that runs an experiment as a job array of shards.
    Slurm(SlurmArgs),
    /// Regression gate: run every experiment in a folder and compare with the baselines;
    /// exit 1 on a regression, write JUnit XML.
    Check(CheckArgs),
    /// Draw the network with the GPU (wgpu): live in a window (pan, zoom, pause, step,
    /// speed, click a node), or offscreen into a PNG with --png (no display needed).
    View(ViewArgs),
    /// Export a strategy for the real deployment: JSON (with provenance), Kubernetes
    /// NetworkPolicy YAML and an nftables ruleset. Each export is read back and must
    /// admit exactly the connections the simulator admitted, or nothing is written;
    /// --diff shows what it would change in a live ruleset.
    Export(ExportArgs),
    /// Build a scenario and a mapping file from the real network: an nmap scan (XML),
    /// Kubernetes manifests and NetFlow records (nfdump), versions matched against a
    /// local NVD CVE feed, hosts grouped by subnet and services.
    Import(ImportArgs),
    /// Forecast from a checkpoint (`run --checkpoint-every`): run members (independent
    /// draws of the future) under the checkpoint's own defenses and each --strategy, in
    /// parallel, and recommend the strategy to deploy with its statistical statement.
    /// Writes forecast.json, members.csv, fan.csv, fan charts (SVG, PNG) and
    /// recommendation.md.
    Forecast(ForecastArgs),
    /// Keep an ensemble of universes in step with the real network's observations (JSON
    /// Lines: alerts, quarantines, releases, verdicts; `paraverse schema --observations`),
    /// estimate what the sensors cannot see (which nodes are compromised), and every
    /// --cycle forecast the --candidate strategies and recommend one. Writes
    /// estimates.csv as it goes, recommendations/, and with --truth accuracy.json.
    Twin(TwinArgs),
    /// Proof by shadow truth, closed loop: a truth run feeds the twin its blue-team events,
    /// deploys each strategy the twin recommends, and its objectives and score are compared
    /// with the same run under each candidate held fixed.
    Shadow(ShadowArgs),
}

/// The world a command simulates: which scenario, under which defenses, from which seed,
/// on how many threads and which traffic backend. `run`, `watch` and `view` flatten it,
/// so the three spell these options alike; `world.rs` builds the scenario and the universe.
#[derive(Debug, Args)]
pub struct WorldArgs {
    /// Scenario file or bundled name (default: the embedded metaverse-campus scenario).
    pub scenario: Option<String>,
    /// Defense strategy file, or a bundled strategy by name (`zero-trust`): its [defense.*]
    /// sections replace the scenario's.
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// Seed of all randomness (default: the scenario's `general.seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Worker threads, 1 to 4096 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<u16>,
    /// Traffic backend: cpu (rayon), gpu (wgpu; Vulkan, or Mesa lavapipe without a GPU),
    /// or auto (the GPU if an adapter exists, else the CPU). Results do not depend on it.
    #[arg(long, default_value = "cpu", value_parser = backend())]
    pub backend: BackendChoice,
}

/// Options of `paraverse import`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  nmap -sV --traceroute -oX scan.xml 10.0.0.0/16\n  paraverse import --nmap scan.xml --vulns nvdcve-2.0-2026.json --name site\n  kubectl get deploy,sts,ds,svc -A -o yaml > cluster.yaml\n  paraverse import --nmap scan.xml --k8s cluster.yaml --name site --force\n  nfdump -R /var/cache/nfdump -o json > flows.json\n  paraverse import --nmap scan.xml --flows flows.json --name site --force\n  paraverse run imported/site/site.toml\n  paraverse export strategies/zero-trust.toml --scenario imported/site/site.toml --mapping imported/site/mapping.toml\n\nThe rules file decides kinds (first match wins; the built-in rules follow yours):\n  [[rule]]\n  kind = \"data_store\"\n  ports = [5432]\n  services = [\"postgresql\"]\n  products = [\"PostgreSQL\"]\n  auth = \"password\""
)]
pub struct ImportArgs {
    /// nmap XML (`nmap -sV --traceroute -oX FILE TARGETS`).
    #[arg(long, required_unless_present = "k8s")]
    pub nmap: Option<PathBuf>,
    /// Kubernetes manifests: a YAML file (a `kubectl get -A -o yaml` dump works) or a
    /// folder of them (*.yaml, *.yml); repeatable. Workloads become groups, their
    /// container ports services, their labels the mapping's.
    #[arg(long)]
    pub k8s: Vec<PathBuf>,
    /// Flow records printed by nfdump (`nfdump -R DIR -o json > flows.json`, or `-o
    /// csv`), e.g. collected by nfcapd from softflowd or a router's NetFlow/IPFIX;
    /// repeatable. Requests to ports the scan found open become benign `[[flow]]`s
    /// between the groups (rate per client, share of clients, direction); the rest is
    /// listed. Needs --nmap: records name addresses.
    #[arg(long, requires = "nmap")]
    pub flows: Vec<PathBuf>,
    /// A local NVD CVE JSON 2.0 feed: scanned versions (by CPE) are matched against it
    /// and the CVEs' CVSS v3.1 vectors go into the scenario. Unmatched services are
    /// listed, not guessed.
    #[arg(long)]
    pub vulns: Option<PathBuf>,
    /// Rules deciding each group's kind (TOML, see below), tried before the built-in ones.
    #[arg(long)]
    pub rules: Option<PathBuf>,
    /// The scenario's name: a folder name.
    #[arg(long, default_value = "imported")]
    pub name: String,
    /// Output folder for NAME.toml and mapping.toml (default: imported/NAME/). An
    /// existing scenario or mapping there is refused unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace existing files.
    #[arg(long)]
    pub force: bool,
}

/// Options of `paraverse view`.
#[derive(Debug, Args)]
#[command(
    after_help = "Window keys: drag pan, wheel zoom, space pause, n or → step, + / - speed, 0 reset view, b red/blue team, click a node for its state, q quit.\n\nColours: nodes slate healthy, green patched/hardened, yellow alerted, purple quarantined, orange down (encrypted or flooded), red compromised (red team only); links slate idle through blue to white saturated, thicker with load, magenta when attack traffic crosses them. Where nodes would be under a few pixels apart they are drawn as 3-pixel cells in their most severe state.\n\nExamples:\n  paraverse view metaverse-under-siege\n  paraverse view campaign-botnet-ddos --png ddos.png --at 120 --size 1200x900\n  paraverse view smart-city-1m --png city.png --at 10"
)]
pub struct ViewArgs {
    /// Scenario, strategy, seed, threads and traffic backend (the picture does not depend
    /// on the backend or the threads).
    #[command(flatten)]
    pub world: WorldArgs,
    /// Render offscreen into this PNG instead of opening a window (works on software
    /// Vulkan, e.g. Mesa lavapipe, without a display).
    #[arg(long)]
    pub png: Option<PathBuf>,
    /// With --png: the tick to picture (default: the end of the run).
    #[arg(long, requires = "png")]
    pub at: Option<u32>,
    /// Image (or first window) size, WIDTHxHEIGHT pixels (16 to 16384 a side).
    #[arg(long, default_value = "1600x1000", value_parser = crate::view::check_size)]
    pub size: String,
    /// With --png: zoom into the centre (1 shows the whole network, up to 1000000).
    #[arg(long, default_value_t = 1.0, requires = "png", value_parser = crate::view::check_zoom)]
    pub zoom: f32,
    /// With --png: centre the picture on a node (its number) or a group (its name), e.g.
    /// `--center gateways --zoom 8`.
    #[arg(long, requires = "png", value_name = "NODE|GROUP")]
    pub center: Option<String>,
    /// With --png: the network only, without the title, legend and group names.
    #[arg(long, requires = "png")]
    pub no_text: bool,
    /// Window: starting speed, ticks per second (0.25 to 10000, the range `+` and `-`
    /// move in).
    #[arg(long, default_value_t = 10.0, value_parser = parse_window_speed)]
    pub speed: f64,
    /// Whose eyes: red sees ground truth (who is compromised, which flows are attacks);
    /// blue sees only its sensors (alerts, quarantines, outages, link loads). `b` in the
    /// window switches.
    #[arg(long, default_value = "red", value_parser = team())]
    pub team: View,
    /// Window: start paused.
    #[arg(long)]
    pub paused: bool,
    /// Window: close after this many frames and print the mean frame time (scripted
    /// runs and measurements).
    #[arg(long, conflicts_with = "png", value_parser = clap::value_parser!(u64).range(1..))]
    pub frames: Option<u64>,
    /// No progress bar and no summary line.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  paraverse export results/zero-trust-interval/best.json\n  paraverse export strategies/segmented.toml --scenario campaign-botnet-ddos --mapping site.toml\n  paraverse export strategies/segmented.toml --scenario campaign-botnet-ddos --format nftables --out - | nft -c -f -\n  nft -j list ruleset > live.json; paraverse export strategies/segmented.toml --scenario campaign-botnet-ddos --diff live.json\n\nThe mapping file (TOML) maps scenario groups, segments and services to the deployment's labels, addresses and ports; see the README, \"Exporting a strategy\"."
)]
pub struct ExportArgs {
    /// A lab result (best.json from `paraverse sweep` or `paraverse optimise`) or a
    /// strategy file (TOML).
    pub strategy: PathBuf,
    /// Formats to write, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "json,k8s,nftables,istio", value_parser = ["json", "k8s", "nftables", "istio"])]
    pub format: Vec<String>,
    /// Print what loading the nftables export would change in a live ruleset (the JSON
    /// of `nft -j list ruleset` on the router) instead of writing anything: sets added,
    /// removed or with changed elements, rules added or removed.
    #[arg(long, value_name = "LIVE_JSON", conflicts_with = "out")]
    pub diff: Option<PathBuf>,
    /// Output folder, or `-` for standard output (one format). Default: export/ beside
    /// best.json, or results/export/STRATEGY/ for a strategy file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The scenario the strategy applies to: a file or bundled name. Default: the one
    /// best.json records; for a strategy file, the embedded default scenario.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Mapping file: the deployment's labels, addresses and ports for the scenario's
    /// groups, segments and services (default: label paraverse.io/group=NAME and
    /// placeholder blocks in 10.0.0.0/8).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Export although the scenario changed since the experiment ran (its source hash
    /// differs from the one best.json records).
    #[arg(long)]
    pub allow_changed_scenario: bool,
}

/// Options of `paraverse sweep`.
#[derive(Debug, Args)]
pub struct SweepArgs {
    /// The experiment file (TOML).
    pub experiment: PathBuf,
    /// Run only shard I of N (runs whose index % N == I), into results/NAME/shard-I-of-N/.
    #[arg(long, value_parser = crate::lab::parse_shard)]
    pub shard: Option<paraverse_lab::Shard>,
    /// Worker threads, 1 to 4096 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<u16>,
    /// Results root.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Output formats, comma-separated: csv (CSV and JSON Lines, always written: other
    /// paraverse commands read them back) and parquet (typed Apache Parquet twins of the
    /// tables, for pyarrow, pandas or polars).
    #[arg(long, default_value = "csv", value_parser = parse_formats)]
    pub format: paraverse_table::Formats,
    /// No progress bar and no summary.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse slurm`.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The experiment file.
    pub experiment: PathBuf,
    /// Shards (array tasks).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..))]
    pub shards: u32,
    /// Time limit per task: minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S.
    #[arg(long, default_value = "04:00:00", value_parser = paraverse_lab::runner::parse_slurm_time)]
    pub time: String,
    /// CPUs per task.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=MAX_THREADS))]
    pub cpus: u32,
}

/// Options of `paraverse check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Folder of experiment files.
    #[arg(default_value = "experiments/ci")]
    pub dir: PathBuf,
    /// Where the gate's runs go.
    #[arg(long, default_value = "results/check")]
    pub results: PathBuf,
    /// Baselines folder.
    #[arg(long, default_value = "results/baselines")]
    pub baselines: PathBuf,
    /// JUnit XML report.
    #[arg(long, default_value = "results/check/junit.xml")]
    pub junit: PathBuf,
    /// Write the baselines from this run instead of comparing.
    #[arg(long)]
    pub update: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario, strategy, seed, threads and traffic backend.
    #[command(flatten)]
    pub world: WorldArgs,
    /// Number of ticks to simulate (default: the scenario's stop time).
    #[arg(long, conflicts_with_all = ["stop", "from"], value_parser = clap::value_parser!(u32).range(1..))]
    pub ticks: Option<u32>,
    /// Simulated time to stop at, e.g. "30 min" (default: the scenario's stop time).
    #[arg(long, conflicts_with = "from", value_parser = parse_duration)]
    pub stop: Option<SimDuration>,
    /// Continue a run from a checkpoint file, or from the latest checkpoint in a folder
    /// written by --checkpoint-every: the scenario, strategy, seed and stop come from the
    /// checkpoint, and the results are byte-identical to the run's had it never stopped.
    #[arg(long, value_name = "CHECKPOINT", conflicts_with_all = ["scenario", "strategy", "seed"])]
    pub from: Option<PathBuf>,
    /// Write a checkpoint every so much simulated time, e.g. "10 min" (at least one tick),
    /// so a killed run continues with --from. Each is written atomically.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub checkpoint_every: Option<SimDuration>,
    /// Folder of the checkpoints (default: the output folder's name + `.checkpoints`,
    /// beside it), as tick-NNNNNNNNNN.ckpt.
    #[arg(long, requires = "checkpoint_every", value_name = "DIR")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Checkpoints to keep, the latest ones (0: all).
    #[arg(long, default_value_t = 3, requires = "checkpoint_every")]
    pub checkpoint_keep: usize,
    /// Also write the blue team's sensor feed as observations (JSON Lines, the format
    /// `paraverse twin` reads): alerts (detections, tripwires), quarantines, releases.
    /// No ground truth: what a SOC would have seen.
    #[arg(long, value_name = "FILE")]
    pub observations_out: Option<PathBuf>,
    /// With --observations-out: also report link loads every INTERVAL of simulated time,
    /// as interface counters polled by SNMP would (`link_load` observations: the traffic
    /// offered on each direction of every link between two infrastructure nodes that
    /// carried any; terminals' own access links are not polled). Sampled while this
    /// process runs, so not with --from or --checkpoint-every.
    #[arg(
        long,
        value_name = "INTERVAL",
        requires = "observations_out",
        conflicts_with_all = ["from", "checkpoint_every"]
    )]
    pub link_loads: Option<SimDuration>,
    /// Replay an exercise: operator commands to apply, one per line after the tick at whose
    /// end they were given (`120 quarantine lobby-headsets`; `paraverse watch --record`
    /// writes such a file). They act and cost as the scripted defenses do; the same file
    /// gives the same run.
    #[arg(long, value_name = "FILE")]
    pub actions: Option<PathBuf>,
    /// Output folder (default: results/SCENARIO-SEED/). Written whole into a temporary
    /// folder and renamed into place; an existing one is refused unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Events kept in events.jsonl (default: the scenario's `recording.max_events`,
    /// 100,000 unless set); later events are counted as dropped, and the run says so.
    #[arg(long, conflicts_with = "from", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_events: Option<u64>,
    /// Output formats, comma-separated: csv (CSV and JSON Lines, always written: other
    /// paraverse commands read them back) and parquet (typed Apache Parquet twins of the
    /// tables, for pyarrow, pandas or polars).
    #[arg(long, default_value = "csv", value_parser = parse_formats)]
    pub format: paraverse_table::Formats,
    /// Replace the output folder if it exists, and run even when the scenario's memory
    /// estimate exceeds the memory this machine has available.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse forecast`.
#[derive(Debug, Args)]
pub struct ForecastArgs {
    /// Checkpoint file, or a folder of them (its latest).
    pub checkpoint: PathBuf,
    /// Simulated time to look ahead, e.g. "1 h" (rounded up to whole ticks).
    #[arg(long, default_value = "1 h", value_parser = parse_duration)]
    pub horizon: SimDuration,
    /// Members (draws of the future) per strategy; every strategy faces the same members.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub members: u32,
    /// A candidate strategy file (repeat for several). The checkpoint's own defenses are
    /// a candidate too, named `current`, unless --without-current.
    #[arg(long)]
    pub strategy: Vec<PathBuf>,
    /// Leave the checkpoint's own defenses out of the candidates.
    #[arg(long, requires = "strategy")]
    pub without_current: bool,
    /// Weights of security loss, availability and cost in the score (lower is better),
    /// e.g. "1,-100000,1" (the lab's defaults).
    #[arg(long, value_delimiter = ',', num_args = 1, value_name = "SL,AV,COST")]
    pub weights: Option<Vec<f64>>,
    /// Worker threads, 1 to 4096 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<u16>,
    /// Members run at once (default: the worker threads); each is a whole universe in
    /// memory. Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub parallel: Option<u16>,
    /// Traffic backend of the members: cpu, gpu or auto. Results do not depend on it.
    #[arg(long, default_value = "cpu", value_parser = backend())]
    pub backend: BackendChoice,
    /// Output folder (default: results/forecast-SCENARIO-TICK/); an existing one is
    /// refused unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// No progress bar and no summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse twin`.
#[derive(Debug, Args)]
pub struct TwinArgs {
    /// The real network's scenario file or bundled name (e.g. from `paraverse import`).
    pub scenario: String,
    /// The real network's defenses (a strategy file). Members run them too, on their own
    /// guess of where the attacker is, acting only on alerts the feed reports too; what the
    /// feed reports is imposed on top.
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// The seed the scenario is built with (default: its `general.seed`): what it builds
    /// from randomness (topology, which nodes run what) must be the real network's. The
    /// members draw their futures from seeds of their own.
    #[arg(long)]
    pub seed: Option<u64>,
    /// The feed: a JSON Lines file, `-` for standard input, or an MQTT topic
    /// `mqtt://HOST[:PORT]/TOPIC`; read as lines arrive, to its end or an `end` line.
    #[arg(long, value_name = "FILE|-|mqtt://HOST:PORT/TOPIC")]
    pub observations: PathBuf,
    /// The live nftables ruleset (`nft -j list ruleset`) each recommendation's change is
    /// stated against (default: the current defenses' export).
    #[arg(long, value_name = "LIVE.json", requires = "cycle")]
    pub live: Option<PathBuf>,
    /// Also publish each cycle's recommendation (retained, QoS 1) to an MQTT topic.
    #[arg(long, value_name = "mqtt://HOST:PORT/TOPIC", requires = "cycle")]
    pub publish: Option<String>,
    /// Mapping file, to name nodes by IPv4 address.
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// Slots for devices the real network may add to its inventory: `N` more nodes at the
    /// end of every group, or `GROUP=N` for one group (repeat). They stay off the network
    /// until an `added` observation names one (`GROUP-INDEX` past the scenario's count, or
    /// the next addresses of the group's blocks in the mapping). Node ids are the twin's,
    /// renumbered around the slots: name nodes by name or address in such a feed.
    #[arg(long, value_name = "N|GROUP=N")]
    pub spare: Vec<String>,
    /// Members of the ensemble.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub members: u32,
    /// The detectors' rates and the attacker's pace the members assume.
    #[command(flatten)]
    pub model: TwinModelArgs,
    /// Show the twin screen in the terminal as it runs: estimated against alerted
    /// compromise with the ensemble's band, the latest forecast per strategy, the
    /// recommendation and why (q quits at once, also mid-forecast; the files written so far
    /// stay).
    #[arg(long)]
    pub watch: bool,
    /// Replay pace: simulated seconds per wall second (e.g. 60 replays an hour's feed in a
    /// minute); default: as fast as the feed arrives and the members step.
    #[arg(long, value_parser = parse_speed)]
    pub speed: Option<f64>,
    /// The simulated time the feed's end stands for (the twin closes every tick up to
    /// it: nothing reported after the last line); default: the last line's time.
    #[arg(long, value_parser = parse_duration)]
    pub until: Option<SimDuration>,
    /// Every so much simulated time, forecast the candidates and recommend one.
    #[arg(long, value_parser = parse_duration, requires = "candidate")]
    pub cycle: Option<SimDuration>,
    /// A candidate strategy file for the cycle's forecasts (repeat); the current
    /// defenses are a candidate too.
    #[arg(long, requires = "cycle")]
    pub candidate: Vec<PathBuf>,
    /// How far each cycle's forecast looks ahead.
    #[arg(long, default_value = "30 min", value_parser = parse_duration)]
    pub horizon: SimDuration,
    /// Compare the estimates with a ground-truth run's folder (the run that wrote the
    /// feed) and write accuracy.json: estimation error against the naive estimate and the
    /// interval's coverage.
    #[arg(long, value_name = "RUN_DIR")]
    pub truth: Option<PathBuf>,
    /// Worker threads, 1 to 4096 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<u16>,
    /// Output folder (default: results/twin-SCENARIO/); an existing one is refused
    /// unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// No summary on the terminal.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Options of `paraverse shadow`.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    /// Scenario file or bundled name (the truth and the twin's model).
    pub scenario: String,
    /// The strategy the truth starts under (default: the scenario's defenses).
    #[arg(long)]
    pub strategy: Option<PathBuf>,
    /// Another candidate strategy file (repeat).
    #[arg(long, required = true)]
    pub candidate: Vec<PathBuf>,
    /// The truth's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// How long the truth runs (default: the scenario's stop).
    #[arg(long, value_parser = parse_duration)]
    pub stop: Option<SimDuration>,
    /// Ensemble members, and members of each cycle's forecast.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub members: u32,
    /// Time between recommendations.
    #[arg(long, default_value = "10 min", value_parser = parse_duration)]
    pub cycle: SimDuration,
    /// How far each forecast looks ahead.
    #[arg(long, default_value = "20 min", value_parser = parse_duration)]
    pub horizon: SimDuration,
    /// The detectors' rates and the attacker's pace the twin's members assume.
    #[command(flatten)]
    pub model: TwinModelArgs,
    /// Worker threads, 1 to 4096 (default: all cores). Results do not depend on it.
    #[arg(long, value_parser = threads())]
    pub threads: Option<u16>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// How a twin reads the sensors and the attacker: the detectors' alert rates (given, or
/// measured on a run with ground truth) and how far the attacker's pace may be from the
/// scenario's. `twin`, `shadow` and `watch --twin` flatten it, so the three assume alike.
#[derive(Debug, Args)]
#[command(next_help_heading = "The twin's model of the sensors and the attacker")]
pub struct TwinModelArgs {
    /// Probability that a compromised node raises an alert in a tick.
    #[arg(long, default_value_t = 0.05, conflicts_with = "calibrate")]
    pub alert_tpr: f64,
    /// Probability that a clean node raises an alert in a tick.
    #[arg(long, default_value_t = 1e-4, conflicts_with = "calibrate")]
    pub alert_fpr: f64,
    /// How far the real attacker's speed may be from the scenario's: each member runs
    /// the campaigns' rates times a factor drawn log-uniformly from [1/S, S], and the feed
    /// weighs which factors explain it. 1: every member at the scenario's rates.
    #[arg(long, value_name = "S", default_value_t = paraverse_twin::ensemble::RatePrior::DEFAULT.spread)]
    pub attack_rate_spread: f64,
    /// Measure the detectors' rates on a run folder with ground truth (`paraverse run` of
    /// the same scenario and defenses, another seed) instead of --alert-tpr/--alert-fpr,
    /// the false-alarm rate per group of devices too.
    #[arg(long, value_name = "RUN_DIR")]
    pub calibrate: Option<PathBuf>,
}

/// Options of `paraverse watch`.
#[derive(Debug, Args)]
#[command(
    mut_arg("calibrate", |a| a.requires("twin")),
    mut_arg("alert_tpr", |a| a.requires("twin")),
    mut_arg("alert_fpr", |a| a.requires("twin")),
    mut_arg("attack_rate_spread", |a| a.requires("twin"))
)]
pub struct WatchArgs {
    /// Scenario, strategy, seed (`r` in the UI restarts with the next one), threads and
    /// traffic backend.
    #[command(flatten)]
    pub world: WorldArgs,
    /// Play these operator commands as their ticks come (a file `--record` wrote, or one
    /// written by hand: `TICK COMMAND` per line).
    #[arg(long, value_name = "FILE")]
    pub actions: Option<PathBuf>,
    /// Append every command given at the `:` prompt (and every one played from
    /// --actions) to FILE, with its tick: `paraverse run --actions FILE` replays the
    /// exercise. Refuses an existing file without --force.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Replace the --record file if it exists.
    #[arg(long)]
    pub force: bool,
    /// Follow the run with a live twin, as the real network it would follow: each tick
    /// the run's blue-team view (alerts, quarantines, releases: no ground truth) is the
    /// twin's feed; `t` shows the twin screen (its estimate of compromised nodes with the
    /// ensemble's band against the alerted nodes and, in the red view, the truth).
    #[arg(long)]
    pub twin: bool,
    /// Members of the twin's ensemble.
    #[arg(long, default_value_t = 8, requires = "twin", value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub twin_members: u32,
    /// The detectors' rates and the attacker's pace the twin's members assume.
    #[command(flatten)]
    pub model: TwinModelArgs,
}

/// Options of `paraverse bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenario file or bundled name.
    #[arg(default_value = "smart-city-1m")]
    pub scenario: String,
    /// Ticks to time at each thread count.
    #[arg(long, default_value_t = 30)]
    pub ticks: u32,
    /// Thread counts to compare (default: 1 and all cores).
    #[arg(long, value_delimiter = ',', value_parser = threads())]
    pub threads: Vec<u16>,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
    /// Benchmark the traffic core's bandwidth allocation instead of the world: --flows
    /// flows on 4-6 hop paths, CPU at each thread count and the GPU, with each answer's
    /// largest deviation from exact max-min (a float64 fluid oracle).
    #[arg(long, conflicts_with = "view")]
    pub traffic: bool,
    /// With --traffic: the problem sizes, in flows.
    #[arg(long, value_delimiter = ',', default_value = "10000,100000,1000000",
          value_parser = clap::value_parser!(u32).range(1..=50_000_000), requires = "traffic")]
    pub flows: Vec<u32>,
    /// With --traffic: `cpu` leaves out the GPU figures, `gpu` fails where no adapter
    /// exists, `auto` (default) adds GPU figures where an adapter exists.
    #[arg(long, default_value = "auto", value_parser = backend(), requires = "traffic")]
    pub backend: BackendChoice,
    /// With --traffic: also write each problem (`problem-<flows>.txt`: links' capacities,
    /// then each flow's class, demand and links) and the CPU's answer with its time
    /// (`rates-<flows>.txt`, kbit/s) to this directory, for `benches/simgrid_maxmin.py`
    /// to solve with SimGrid and compare.
    #[arg(long, value_name = "DIR", requires = "traffic")]
    pub dump: Option<std::path::PathBuf>,
    /// Benchmark checkpoints instead: after --ticks ticks, the time to save (encode and
    /// write) and to resume (read, rebuild, restore) against a plain build, a fork, and
    /// the bytes per terminal and per part.
    #[arg(long, conflicts_with_all = ["view", "traffic"])]
    pub checkpoint: bool,
    /// Benchmark the live twin instead: an ensemble of --members universes assimilating
    /// --ticks ticks, then one cycle's forecast (--members members, --ticks ahead), as
    /// real-time factors (simulated over wall time) at each thread count.
    #[arg(long, conflicts_with_all = ["view", "traffic", "checkpoint"])]
    pub twin: bool,
    /// Ensemble members for --twin.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub members: u32,
    /// Benchmark the GPU viewer instead: frames of SCENARIO (after --ticks ticks) at the
    /// whole-network view and zoomed 8x and 64x, 1920x1080, offscreen: reading the
    /// frame, building the scene (CPU, with level of detail) and drawing it (GPU).
    #[arg(long)]
    pub view: bool,
}

/// The most worker threads (or members at once) a command takes, and a Slurm task's CPUs
/// (`slurm --cpus`): [`paraverse_lab::runner::MAX_THREADS`].
const MAX_THREADS: i64 = paraverse_lab::runner::MAX_THREADS as i64;

/// `--threads` (and `--parallel`): 1 to [`MAX_THREADS`].
fn threads() -> clap::builder::RangedI64ValueParser<u16> {
    clap::value_parser!(u16).range(1..=MAX_THREADS)
}

/// `--backend`: cpu, gpu or auto, listed in `--help` and in the error for another word.
fn backend() -> impl TypedValueParser<Value = BackendChoice> {
    PossibleValuesParser::new(["cpu", "gpu", "auto"]).try_map(|s| s.parse::<BackendChoice>())
}

/// `--team`: red (ground truth) or blue (the sensors' view).
fn team() -> impl TypedValueParser<Value = View> {
    PossibleValuesParser::new(["red", "blue"]).map(
        |s| {
            if s == "blue" { View::Blue } else { View::Red }
        },
    )
}

fn parse_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!(
            "`{s}`: expected simulated seconds per wall second, a number > 0"
        )),
    }
}

/// `view --speed`: ticks per second within the window's range.
fn parse_window_speed(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.25..=10_000.0).contains(&v) => Ok(v),
        _ => Err(format!("`{s}`: expected ticks per second, 0.25 to 10000")),
    }
}

fn parse_duration(s: &str) -> Result<SimDuration, String> {
    s.parse()
        .map_err(|e: paraverse_sim::units::QuantityError| e.to_string())
}

/// Parses `--format`.
fn parse_formats(s: &str) -> Result<paraverse_table::Formats, String> {
    paraverse_table::Formats::parse(s)
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{CommandFactory as _, Parser as _};

    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("paraverse").chain(args.iter().copied()))
            .map(|cli| cli.command)
    }

    fn world_of(args: &[&str]) -> WorldArgs {
        match parse(args).unwrap() {
            Command::Run(a) => a.world,
            Command::Watch(a) => a.world,
            Command::View(a) => a.world,
            other => panic!("not a world command: {other:?}"),
        }
    }

    /// clap's own checks of the definitions: every id a `conflicts_with`, `requires` or
    /// flatten names exists, no two options share a name.
    #[test]
    fn the_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_watch_and_view_read_the_world_alike() {
        for command in ["run", "watch", "view"] {
            let w = world_of(&[
                command,
                "campaign-intrusion",
                "--strategy",
                "zero-trust",
                "--seed",
                "7",
                "--threads",
                "2",
                "--backend",
                "auto",
            ]);
            assert_eq!(
                w.scenario.as_deref(),
                Some("campaign-intrusion"),
                "{command}"
            );
            assert_eq!(w.strategy, Some(PathBuf::from("zero-trust")), "{command}");
            assert_eq!(w.seed, Some(7), "{command}");
            assert_eq!(w.threads, Some(2), "{command}");
            assert_eq!(w.backend, BackendChoice::Auto, "{command}");

            let defaults = world_of(&[command]);
            assert_eq!(defaults.scenario, None, "{command}");
            assert_eq!(defaults.strategy, None, "{command}");
            assert_eq!(defaults.seed, None, "{command}");
            assert_eq!(defaults.threads, None, "{command}");
            assert_eq!(defaults.backend, BackendChoice::Cpu, "{command}");
        }
    }

    #[test]
    fn backends_and_teams_are_typed_with_their_defaults() {
        match parse(&["forecast", "ck", "--backend", "gpu"]).unwrap() {
            Command::Forecast(a) => assert_eq!(a.backend, BackendChoice::Gpu),
            other => panic!("{other:?}"),
        }
        match parse(&["forecast", "ck"]).unwrap() {
            Command::Forecast(a) => assert_eq!(a.backend, BackendChoice::Cpu),
            other => panic!("{other:?}"),
        }
        match parse(&["bench", "--traffic"]).unwrap() {
            Command::Bench(a) => assert_eq!(a.backend, BackendChoice::Auto),
            other => panic!("{other:?}"),
        }
        match parse(&["bench", "--traffic", "--backend", "cpu"]).unwrap() {
            Command::Bench(a) => assert_eq!(a.backend, BackendChoice::Cpu),
            other => panic!("{other:?}"),
        }
        for (given, team) in [
            (None, View::Red),
            (Some("red"), View::Red),
            (Some("blue"), View::Blue),
        ] {
            let mut args = vec!["view"];
            args.extend(given.map(|t| ["--team", t]).into_iter().flatten());
            match parse(&args).unwrap() {
                Command::View(a) => assert_eq!(a.team, team, "{args:?}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn the_windows_speed_is_within_the_range_its_keys_move_in() {
        for (given, speed) in [("0.25", 0.25), ("10", 10.0), ("10000", 10_000.0)] {
            match parse(&["view", "--speed", given]).unwrap() {
                Command::View(a) => assert_eq!(a.speed, speed),
                other => panic!("{other:?}"),
            }
        }
        for bad in ["0", "-5", "0.1", "10001", "NaN", "inf", "fast"] {
            let flag = format!("--speed={bad}");
            let err = parse(&["view", &flag]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ValueValidation, "{bad}: {err}");
            assert!(err.to_string().contains("0.25 to 10000"), "{bad}: {err}");
        }
    }

    #[test]
    fn worker_threads_are_1_to_4096_everywhere() {
        let commands: [&[&str]; 8] = [
            &["run"],
            &["watch"],
            &["view"],
            &["sweep", "e.toml"],
            &["optimise", "e.toml"],
            &["forecast", "ck"],
            &["twin", "site", "--observations", "f.jsonl"],
            &["shadow", "site", "--candidate", "c.toml"],
        ];
        for command in commands {
            for (threads, ok) in [
                ("1", true),
                ("4096", true),
                ("0", false),
                ("4097", false),
                ("60000", false),
            ] {
                let args = [command, &["--threads", threads][..]].concat();
                match parse(&args) {
                    Ok(_) => assert!(ok, "{args:?} was taken"),
                    Err(e) => {
                        assert!(!ok, "{args:?}: {e}");
                        assert_eq!(e.kind(), ErrorKind::ValueValidation, "{args:?}: {e}");
                        assert!(e.to_string().contains("1..=4096"), "{args:?}: {e}");
                    }
                }
            }
        }
        assert!(parse(&["bench", "--threads", "1,4097"]).is_err());
        assert!(parse(&["forecast", "ck", "--parallel", "4097"]).is_err());
    }

    #[test]
    fn a_backend_or_team_outside_the_list_is_refused_naming_the_list() {
        for (args, list) in [
            (&["run", "--backend", "cuda"][..], "cpu, gpu, auto"),
            (&["watch", "--backend", "cuda"], "cpu, gpu, auto"),
            (&["view", "--backend", "cuda"], "cpu, gpu, auto"),
            (&["forecast", "ck", "--backend", "cuda"], "cpu, gpu, auto"),
            (
                &["bench", "--traffic", "--backend", "cuda"],
                "cpu, gpu, auto",
            ),
            (&["view", "--team", "green"], "red, blue"),
        ] {
            let err = parse(args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidValue, "{args:?}: {err}");
            assert!(err.to_string().contains(list), "{args:?}: {err}");
        }
    }

    fn model_of(args: &[&str]) -> TwinModelArgs {
        match parse(args).unwrap() {
            Command::Twin(a) => a.model,
            Command::Shadow(a) => a.model,
            Command::Watch(a) => a.model,
            other => panic!("not a twin command: {other:?}"),
        }
    }

    #[test]
    fn twin_shadow_and_watch_read_the_twins_model_alike() {
        let model = [
            "--alert-tpr",
            "0.2",
            "--alert-fpr",
            "0.001",
            "--attack-rate-spread",
            "3",
        ];
        for command in [
            &["twin", "site", "--observations", "feed.jsonl"][..],
            &["shadow", "site", "--candidate", "zero-trust.toml"],
            &["watch", "--twin"],
        ] {
            let m = model_of(&[command, &model[..]].concat());
            assert_eq!(
                (m.alert_tpr, m.alert_fpr, m.attack_rate_spread, m.calibrate),
                (0.2, 0.001, 3.0, None),
                "{command:?}"
            );
            let d = model_of(command);
            assert_eq!(
                (d.alert_tpr, d.alert_fpr, d.attack_rate_spread, d.calibrate),
                (0.05, 1e-4, 1.5, None),
                "{command:?}"
            );
            let c = model_of(&[command, &["--calibrate", "truth-run"][..]].concat());
            assert_eq!(c.calibrate, Some(PathBuf::from("truth-run")), "{command:?}");
            // Measured rates replace given ones: not both.
            let both = [
                command,
                &["--calibrate", "truth-run", "--alert-tpr", "0.2"][..],
            ]
            .concat();
            let err = parse(&both).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{both:?}: {err}");
        }
        // In `watch` the model is the twin's: without --twin it is refused, not ignored.
        for flag in [
            &["--alert-tpr", "0.2"][..],
            &["--attack-rate-spread", "3"],
            &["--calibrate", "r"],
        ] {
            let args = [&["watch"][..], flag].concat();
            let err = parse(&args).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::MissingRequiredArgument,
                "{args:?}: {err}"
            );
            assert!(err.to_string().contains("--twin"), "{args:?}: {err}");
        }
    }

    #[test]
    fn a_resumed_run_takes_its_world_from_the_checkpoint() {
        for extra in [
            &["campaign-intrusion"][..],
            &["--strategy", "zero-trust"],
            &["--seed", "3"],
        ] {
            let mut args = vec!["run", "--from", "ck"];
            args.extend_from_slice(extra);
            let err = parse(&args).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ArgumentConflict, "{args:?}: {err}");
        }
        // Threads and the backend are how to run it, not what: a resumed run may change them.
        let w = world_of(&["run", "--from", "ck", "--threads", "1", "--backend", "gpu"]);
        assert_eq!((w.threads, w.backend), (Some(1), BackendChoice::Gpu));
    }
}
