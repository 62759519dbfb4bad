//! The Glue catalogue: what this build knows about Glue itself, each row with the AWS page it
//! comes from. The worker types with the DPUs one worker counts for, the Glue versions (and
//! which of them interactive sessions accept), the session types, the defaults Glue documents
//! for what a creator leaves out, per command, and the arguments that turn on auto scaling.
//!
//! Names are data, never a reason to wait for a release: a name is well formed when Glue's own
//! API would accept it (the API reference's length and pattern, [`is_well_formed_worker_type`],
//! [`is_well_formed_glue_version`]); a well-formed name this table lacks is accepted with a
//! warning, and a worker type's DPUs come from its name when the table lacks it
//! ([`dpu_from_name`]: Glue's names carry their size). A policy may give a figure itself with
//! `worker_type_dpu`. Beside it, the AWS Regions an organization-wide deployment may target,
//! which must exist: a Region this table lacks is refused, not warned about.

use serde::Serialize;

/// An AWS page a row of the catalogue comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Source {
    /// The page's title, as AWS gives it.
    pub page: &'static str,
    pub url: &'static str,
}

/// AWS Glue Developer Guide, "AWS Glue worker types" (the worker type specifications table: DPUs,
/// vCPUs, memory and disk of G.1X to G.16X and of the memory-optimized R.1X to R.8X, whose DPUs
/// are M-DPUs of 32 GB).
pub const WORKER_TYPES_PAGE: Source = Source {
    page: "AWS Glue worker types",
    url: "https://docs.aws.amazon.com/glue/latest/dg/worker-types.html",
};

/// AWS Glue API reference, "Jobs" (`CreateJob`, `WorkerType`: "For the G.025X worker type, each
/// worker maps to 0.25 DPU"; "For the Z.2X worker type, each worker maps to 2 M-DPU"; Python
/// shell `MaxCapacity`; the Glue version jobs default to).
pub const JOBS_API_PAGE: Source = Source {
    page: "Jobs (AWS Glue API)",
    url: "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-jobs-job.html",
};

/// AWS Glue Developer Guide, "Migrating AWS Glue for Spark jobs to AWS Glue version 6.1": the
/// Graviton worker types ("`G.1X.GRAVITON` through `G.16X.GRAVITON` and `R.1X.GRAVITON` through
/// `R.8X.GRAVITON`") and "a Spark job created without a `WorkerType` runs on arm64 Graviton
/// workers by default (`G.1X.GRAVITON`)": a default for jobs, which the page does not give for
/// interactive sessions.
pub const GLUE_6_1_PAGE: Source = Source {
    page: "Migrating AWS Glue for Spark jobs to AWS Glue version 6.1",
    url: "https://docs.aws.amazon.com/glue/latest/dg/migrating-version-61.html",
};

/// AWS Glue Developer Guide, "Migrating AWS Glue for Spark jobs to AWS Glue version 6.0".
pub const GLUE_6_0_PAGE: Source = Source {
    page: "Migrating AWS Glue for Spark jobs to AWS Glue version 6.0",
    url: "https://docs.aws.amazon.com/glue/latest/dg/migrating-version-60.html",
};

/// AWS Glue Developer Guide, "AWS Glue versions" (5.1, 5.0, 4.0, 3.0, 2.0, 1.0, 0.9).
pub const GLUE_VERSIONS_PAGE: Source = Source {
    page: "AWS Glue versions",
    url: "https://docs.aws.amazon.com/glue/latest/dg/release-notes.html",
};

/// AWS Glue API reference, "Interactive sessions API": `CreateSession` ("The GlueVersion must be
/// greater than 2.0"; `Timeout` "Default for Spark ETL jobs is 48 hours (2880 minutes)";
/// `IdleTimeout` "Default for Spark ETL jobs is value of Timeout"; `SessionType` `LIVY` |
/// `SPARK_CONNECT`), and the `Session` structure `GetSession` returns.
pub const SESSIONS_API_PAGE: Source = Source {
    page: "Interactive sessions API",
    url: "https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-interactive-sessions.html",
};

/// AWS Glue Developer Guide, "Using Spark Connect with AWS Glue interactive sessions": "Spark
/// Connect is supported natively in AWS Glue version 5.1 and above"; a session is a Spark
/// Connect one when created with `SessionType` `SPARK_CONNECT` (Livy, the statement APIs,
/// otherwise).
pub const SPARK_CONNECT_PAGE: Source = Source {
    page: "Using Spark Connect with AWS Glue interactive sessions",
    url: "https://docs.aws.amazon.com/glue/latest/dg/interactive-sessions-spark-connect.html",
};

/// AWS Glue Developer Guide, "Configuring AWS Glue interactive sessions for Jupyter and AWS Glue
/// Studio notebooks" (the magics: `%number_of_workers` default 5, `%worker_type` default G.1X).
pub const MAGICS_PAGE: Source = Source {
    page: "Configuring AWS Glue interactive sessions for Jupyter and AWS Glue Studio notebooks",
    url: "https://docs.aws.amazon.com/glue/latest/dg/interactive-sessions-magics.html",
};

/// AWS Glue Developer Guide, "Using auto scaling for AWS Glue": "Auto Scaling is available for
/// your AWS Glue ETL, interactive sessions, and streaming jobs with AWS Glue version 3.0 or
/// later", turned on by `--enable-auto-scaling` `true`; `NumberOfWorkers` is then the maximum.
pub const AUTO_SCALING_PAGE: Source = Source {
    page: "Using auto scaling for AWS Glue",
    url: "https://docs.aws.amazon.com/glue/latest/dg/auto-scaling.html",
};

/// AWS Glue Developer Guide, "Using the managed scaling profile for AWS Glue": `--scaling-profile`
/// `balanced` (on) or `disabled` (off); "The run grows up to the maximum number of workers that
/// you set", and it takes priority over `--enable-auto-scaling`.
pub const SCALING_PROFILE_PAGE: Source = Source {
    page: "Using the managed scaling profile for AWS Glue",
    url: "https://docs.aws.amazon.com/glue/latest/dg/scaling-profile.html",
};

/// AWS Glue Developer Guide, "Identity-based policy examples for AWS Glue" ("Deny an identity
/// the ability to create data preview sessions": `session/glue-studio-datapreview*`).
pub const DATA_PREVIEW_PAGE: Source = Source {
    page: "Identity-based policy examples for AWS Glue",
    url: "https://docs.aws.amazon.com/glue/latest/dg/security_iam_id-based-policy-examples.html",
};

/// The id prefix of the sessions Glue Studio creates for data previews
/// ([`DATA_PREVIEW_PAGE`]): `glue-studio-datapreview-<uuid>`.
pub const DATA_PREVIEW_SESSION_PREFIX: &str = "glue-studio-datapreview";

/// One worker type Glue documents.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct WorkerType {
    /// Glue's name (`WorkerType`).
    pub name: &'static str,
    /// DPUs one worker counts for (M-DPUs for the R and Z types: the same count, 32 GB each).
    pub dpu: f64,
    pub source: Source,
}

const fn worker(name: &'static str, dpu: f64, source: Source) -> WorkerType {
    WorkerType { name, dpu, source }
}

/// Every worker type this build knows, with the DPUs one worker counts for.
pub const WORKER_TYPES: &[WorkerType] = &[
    worker("G.025X", 0.25, JOBS_API_PAGE),
    worker("G.1X", 1.0, WORKER_TYPES_PAGE),
    worker("G.2X", 2.0, WORKER_TYPES_PAGE),
    worker("G.4X", 4.0, WORKER_TYPES_PAGE),
    worker("G.8X", 8.0, WORKER_TYPES_PAGE),
    worker("G.12X", 12.0, WORKER_TYPES_PAGE),
    worker("G.16X", 16.0, WORKER_TYPES_PAGE),
    worker("R.1X", 1.0, WORKER_TYPES_PAGE),
    worker("R.2X", 2.0, WORKER_TYPES_PAGE),
    worker("R.4X", 4.0, WORKER_TYPES_PAGE),
    worker("R.8X", 8.0, WORKER_TYPES_PAGE),
    worker("Z.2X", 2.0, JOBS_API_PAGE),
    worker("G.1X.GRAVITON", 1.0, GLUE_6_1_PAGE),
    worker("G.2X.GRAVITON", 2.0, GLUE_6_1_PAGE),
    worker("G.4X.GRAVITON", 4.0, GLUE_6_1_PAGE),
    worker("G.8X.GRAVITON", 8.0, GLUE_6_1_PAGE),
    worker("G.12X.GRAVITON", 12.0, GLUE_6_1_PAGE),
    worker("G.16X.GRAVITON", 16.0, GLUE_6_1_PAGE),
    worker("R.1X.GRAVITON", 1.0, GLUE_6_1_PAGE),
    worker("R.2X.GRAVITON", 2.0, GLUE_6_1_PAGE),
    worker("R.4X.GRAVITON", 4.0, GLUE_6_1_PAGE),
    worker("R.8X.GRAVITON", 8.0, GLUE_6_1_PAGE),
];

/// One Glue version Glue documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GlueVersion {
    /// Glue's name (`GlueVersion`), e.g. `5.1`.
    pub version: &'static str,
    /// Interactive sessions accept it: "The GlueVersion must be greater than 2.0"
    /// ([`SESSIONS_API_PAGE`]).
    pub sessions: bool,
    /// Spark Connect sessions run on it: 5.1 and later ([`SPARK_CONNECT_PAGE`]).
    pub spark_connect: bool,
    pub source: Source,
}

const fn version(
    version: &'static str,
    sessions: bool,
    spark_connect: bool,
    source: Source,
) -> GlueVersion {
    GlueVersion {
        version,
        sessions,
        spark_connect,
        source,
    }
}

/// Every Glue version this build knows, oldest first.
pub const GLUE_VERSIONS: &[GlueVersion] = &[
    version("0.9", false, false, GLUE_VERSIONS_PAGE),
    version("1.0", false, false, GLUE_VERSIONS_PAGE),
    version("2.0", false, false, GLUE_VERSIONS_PAGE),
    version("3.0", true, false, GLUE_VERSIONS_PAGE),
    version("4.0", true, false, GLUE_VERSIONS_PAGE),
    version("5.0", true, false, GLUE_VERSIONS_PAGE),
    version("5.1", true, true, GLUE_VERSIONS_PAGE),
    version("6.0", true, true, GLUE_6_0_PAGE),
    version("6.1", true, true, GLUE_6_1_PAGE),
];

/// The catalogue's row for a Glue version.
pub fn glue_version(name: &str) -> Option<&'static GlueVersion> {
    GLUE_VERSIONS.iter().find(|row| row.version == name)
}

/// The Glue versions interactive sessions accept, as names.
pub fn session_glue_versions() -> Vec<&'static str> {
    GLUE_VERSIONS
        .iter()
        .filter(|row| row.sessions)
        .map(|row| row.version)
        .collect()
}

/// The catalogue's row for a worker type.
pub fn worker_type(name: &str) -> Option<&'static WorkerType> {
    WORKER_TYPES.iter().find(|row| row.name == name)
}

/// DPUs of one worker of `worker_type` in this catalogue, or `None` for a type it lacks.
pub fn dpu_per_worker(worker_type: &str) -> Option<f64> {
    self::worker_type(worker_type).map(|row| row.dpu)
}

/// The DPUs one worker counts for, as Glue's naming says: `<family>.<size>X`, then optional
/// variant parts (`G.2X` = 2, `R.4X` = 4, `G.2X.GRAVITON` = 2), where a size with a leading `0`
/// is a fraction (`G.025X` = 0.25, as [`JOBS_API_PAGE`] gives it). `None` for a name that does
/// not follow the naming (nothing is guessed).
///
/// Source: every row of [`WORKER_TYPES`] is named so ([`WORKER_TYPES_PAGE`]: "G.1X … 1 DPU",
/// "G.2X … 2 DPU", …); a test checks the rule against each of them.
pub fn dpu_from_name(name: &str) -> Option<f64> {
    let mut parts = name.split('.');
    let family = parts.next()?;
    let size = parts.next()?.strip_suffix('X')?;
    let variant_ok = parts.all(|part| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    });
    if family.is_empty()
        || !family.bytes().all(|b| b.is_ascii_alphabetic())
        || size.is_empty()
        || size.len() > 4
        || !size.bytes().all(|b| b.is_ascii_digit())
        || !variant_ok
    {
        return None;
    }
    let dpu = match size.strip_prefix('0') {
        Some(fraction) if !fraction.is_empty() => format!("0.{fraction}").parse::<f64>().ok()?,
        _ => size.parse::<f64>().ok()?,
    };
    (dpu > 0.0).then_some(dpu)
}

/// The longest worker type name Glue takes where the preventive layer writes it: a usage
/// profile's `AllowedValues` and `DefaultValue` (`ConfigValueString`).
pub const MAX_WORKER_TYPE_CHARS: usize = 128;

/// True for a worker type name Glue's API would accept. `WorkerType` itself is an open
/// enumeration in the API model (Glue runs types the model does not list, such as `G.12X`, `R.2X`
/// and `G.1X.GRAVITON`, and the SDKs pass unknown values through), so the rule is the one Glue
/// applies where a worker type is written as data: the usage profile's `ConfigValueString`,
/// 1 to 128 characters of `[a-zA-Z0-9_.-]` (AWS Glue API reference, "Usage profiles",
/// `ConfigurationObject`).
pub fn is_well_formed_worker_type(name: &str) -> bool {
    (1..=MAX_WORKER_TYPE_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// True for a Glue version Glue's API would accept: `GlueVersionString`, 1 to 255 characters
/// matching `^(\w+\.)+\w+$` (AWS Glue API reference, `CreateSession` and `CreateJob`
/// `GlueVersion`).
pub fn is_well_formed_glue_version(name: &str) -> bool {
    let word = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    (1..=255).contains(&name.len()) && name.contains('.') && name.split('.').all(word)
}

/// The kind of interactive session (`SessionType` of `CreateSession` and `Session`).
///
/// Source: [`SESSIONS_API_PAGE`] (`LIVY` | `SPARK_CONNECT`) and [`SPARK_CONNECT_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SessionType {
    /// `LIVY`: statements run through `RunStatement` (notebooks, Glue Studio).
    Livy,
    /// `SPARK_CONNECT`: a PySpark client connects to the session's endpoint; Glue 5.1 and later.
    SparkConnect,
}

impl SessionType {
    /// Every session type, in Glue's order.
    pub const ALL: [SessionType; 2] = [SessionType::Livy, SessionType::SparkConnect];

    /// Glue's name (`LIVY`, `SPARK_CONNECT`).
    pub fn as_str(self) -> &'static str {
        match self {
            SessionType::Livy => "LIVY",
            SessionType::SparkConnect => "SPARK_CONNECT",
        }
    }

    /// The session type of Glue's name; `None` for a name this build does not know.
    pub fn from_name(name: &str) -> Option<SessionType> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// The session type a `CreateSession` without `SessionType` gets: `LIVY`, the statement
    /// sessions every session was before Spark Connect; a Spark Connect session is created by
    /// asking for one ([`SPARK_CONNECT_PAGE`]: "Connecting to a Spark Connect session via API"
    /// passes `SessionType="SPARK_CONNECT"`).
    pub const DEFAULT: SessionType = SessionType::Livy;

    /// The oldest Glue version that runs this session type, when there is one.
    pub fn needs_glue_version(self) -> Option<&'static str> {
        match self {
            SessionType::Livy => None,
            SessionType::SparkConnect => Some("5.1"),
        }
    }
}

/// True for a session type name shaped like Glue's (`LIVY`, `SPARK_CONNECT`): 1 to 64 capital
/// letters, digits and `_`. A well-formed name this build lacks is accepted with a warning.
pub fn is_well_formed_session_type(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

/// `--enable-auto-scaling`: `true` turns auto scaling on ([`AUTO_SCALING_PAGE`]).
pub const AUTO_SCALING_ARGUMENT: &str = "--enable-auto-scaling";
/// `--scaling-profile`: `balanced` turns the managed scaling profile on, `disabled` off; it wins
/// over `--enable-auto-scaling` ([`SCALING_PROFILE_PAGE`]).
pub const SCALING_PROFILE_ARGUMENT: &str = "--scaling-profile";

/// Whether Glue scales a session's workers, from its `DefaultArguments` (only the two scaling
/// arguments are read): with scaling on, `NumberOfWorkers` is the most it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scaling {
    /// Neither argument turns scaling on: `NumberOfWorkers` run from start to end.
    Fixed,
    /// Scaling is on; the argument that turned it on, as `name value`.
    UpTo(String),
}

impl Scaling {
    /// The scaling the arguments ask for. `--scaling-profile` wins when given (`balanced` on,
    /// anything else off); else `--enable-auto-scaling` `true` (in any case) is on.
    pub fn of<'a>(mut argument: impl FnMut(&str) -> Option<&'a str>) -> Scaling {
        if let Some(profile) = argument(SCALING_PROFILE_ARGUMENT) {
            return if profile.trim().eq_ignore_ascii_case("balanced") {
                Scaling::UpTo(format!("{SCALING_PROFILE_ARGUMENT} {}", profile.trim()))
            } else {
                Scaling::Fixed
            };
        }
        match argument(AUTO_SCALING_ARGUMENT) {
            Some(on) if on.trim().eq_ignore_ascii_case("true") => {
                Scaling::UpTo(format!("{AUTO_SCALING_ARGUMENT} {}", on.trim()))
            }
            _ => Scaling::Fixed,
        }
    }
}

/// What runs in a session or job: `Command.Name` (`SessionCommand`, `JobCommand`). Which defaults
/// Glue applies depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CommandName {
    /// `glueetl`: Spark.
    Spark,
    /// `gluestreaming`: Spark streaming.
    Streaming,
    /// `glueray`: Ray.
    Ray,
}

impl CommandName {
    /// The command for `Command.Name`; `None` for a name Glue does not document for sessions.
    pub fn from_name(name: &str) -> Option<CommandName> {
        match name {
            "glueetl" => Some(CommandName::Spark),
            "gluestreaming" => Some(CommandName::Streaming),
            "glueray" => Some(CommandName::Ray),
            _ => None,
        }
    }

    /// Glue's own name (`Command.Name`).
    pub fn as_str(self) -> &'static str {
        match self {
            CommandName::Spark => "glueetl",
            CommandName::Streaming => "gluestreaming",
            CommandName::Ray => "glueray",
        }
    }

    /// The defaults Glue documents for what a creator of this kind of session leaves out.
    pub fn documented_session_defaults(self) -> ServiceDefaults {
        match self {
            // SESSIONS_API_PAGE, CreateSession: `Timeout` "Default for Spark ETL jobs is 48
            // hours (2880 minutes)"; `IdleTimeout` "Default for Spark ETL jobs is value of
            // Timeout". MAGICS_PAGE: `%number_of_workers` default 5, `%worker_type` default
            // G.1X. GLUE_6_1_PAGE makes G.1X.GRAVITON the default of Spark *jobs* on 6.1 and
            // says nothing of sessions, so sessions keep G.1X.
            CommandName::Spark => ServiceDefaults {
                number_of_workers: Some(5),
                worker_type: Some("G.1X"),
                timeout_minutes: Some(2880),
                idle_timeout_is_timeout: true,
            },
            // The same CreateSession reference says "Consult the documentation for other job
            // types", and no page gives session defaults for streaming or Ray: left out values
            // of these sessions are not guessed (their checks are `unchecked`).
            CommandName::Streaming | CommandName::Ray => ServiceDefaults::default(),
        }
    }
}

/// What a job runs: `JobCommand.Name` ([`JOBS_API_PAGE`], `JobCommand`). Which defaults Glue
/// applies to a job depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum JobCommand {
    /// `glueetl`: Spark ETL.
    Spark,
    /// `gluestreaming`: Spark streaming ETL.
    Streaming,
    /// `pythonshell`: Python shell (`MaxCapacity` 0.0625 or 1 DPU, no workers).
    PythonShell,
    /// `glueray`: Ray (`Z.2X` workers).
    Ray,
}

impl JobCommand {
    pub const ALL: [JobCommand; 4] = [
        JobCommand::Spark,
        JobCommand::Streaming,
        JobCommand::PythonShell,
        JobCommand::Ray,
    ];

    /// The command for `JobCommand.Name`; `None` for a name Glue does not document.
    pub fn from_name(name: &str) -> Option<JobCommand> {
        JobCommand::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Glue's own name (`JobCommand.Name`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobCommand::Spark => "glueetl",
            JobCommand::Streaming => "gluestreaming",
            JobCommand::PythonShell => "pythonshell",
            JobCommand::Ray => "glueray",
        }
    }

    /// The defaults Glue documents for what a job of this command leaves out, on `glue_version`
    /// (`None`: left out, so Glue's default version, [`DEFAULT_JOB_GLUE_VERSION`]). Sources
    /// ([`JOBS_API_PAGE`], the `CreateJob`/`Job`/`JobRun` members, unless named):
    /// - `Timeout`: "When the value is left blank, the timeout is defaulted to 2,880 minutes for
    ///   Glue version 4.0 and earlier, or 480 minutes for Glue version 5.0 and later", for
    ///   Spark ETL and Python shell jobs. Streaming jobs run until stopped ("For streaming
    ///   jobs, if you have set up a maintenance window, it will be restarted ... after 7
    ///   days") and Ray jobs are given none: no default;
    /// - Spark (`glueetl`, `gluestreaming`): `MaxCapacity` "The default is 10 DPUs"; on Glue
    ///   6.1 and later 10 workers of `G.1X.GRAVITON` ([`GLUE_6_1_PAGE`]: "a Spark job created
    ///   without a WorkerType runs on arm64 Graviton workers by default"). Before 6.1 no page
    ///   names the worker type, so only the 10 DPUs are known;
    /// - Python shell: `MaxCapacity` "The default is 0.0625 DPU";
    /// - Ray: `WorkerType` "Accepts the value Z.2X for Ray jobs"; no documented count.
    pub fn documented_job_defaults(self, glue_version: Option<&str>) -> JobDefaults {
        let glue_version = glue_version.or(Some(DEFAULT_JOB_GLUE_VERSION));
        let version = glue_version.and_then(version_numbers);
        let graviton = version.is_some_and(|version| version >= (6, 1));
        let batch_timeout = match version {
            Some(version) if version >= (5, 0) => Some(480),
            _ => Some(2880),
        };
        let spark = |timeout_minutes| {
            if graviton {
                JobDefaults {
                    number_of_workers: Some(10),
                    worker_type: Some("G.1X.GRAVITON"),
                    max_capacity: None,
                    timeout_minutes,
                }
            } else {
                JobDefaults {
                    number_of_workers: None,
                    worker_type: None,
                    max_capacity: Some(10.0),
                    timeout_minutes,
                }
            }
        };
        match self {
            JobCommand::Spark => spark(batch_timeout),
            JobCommand::Streaming => spark(None),
            JobCommand::PythonShell => JobDefaults {
                number_of_workers: None,
                worker_type: None,
                max_capacity: Some(0.0625),
                timeout_minutes: batch_timeout,
            },
            JobCommand::Ray => JobDefaults {
                number_of_workers: None,
                worker_type: Some("Z.2X"),
                max_capacity: None,
                timeout_minutes: None,
            },
        }
    }
}

/// What Glue applies, per its documentation, to a value a job leaves out
/// ([`JobCommand::documented_job_defaults`]). `None`: nothing documented. A job has either
/// workers (`number_of_workers` x `worker_type`) or `max_capacity` as its documented size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct JobDefaults {
    pub number_of_workers: Option<u64>,
    pub worker_type: Option<&'static str>,
    /// DPUs, for a size given as capacity (Python shell; Spark before Glue 6.1).
    pub max_capacity: Option<f64>,
    pub timeout_minutes: Option<u64>,
}

/// The Glue version of a job created without one ([`JOBS_API_PAGE`], `CreateJob`
/// `GlueVersion`: "Jobs that are created without specifying a Glue version default to Glue
/// 5.1").
pub const DEFAULT_JOB_GLUE_VERSION: &str = "5.1";

/// `ExecutionClass`es Glue documents ([`JOBS_API_PAGE`]: `FLEX` | `STANDARD`).
pub const EXECUTION_CLASSES: &[&str] = &["STANDARD", "FLEX"];

/// The `ExecutionClass` of a job that sets none: `STANDARD` ([`JOBS_API_PAGE`]: "The flexible
/// execution class is appropriate for time-insensitive jobs"; `FLEX` is what a job asks for).
pub const DEFAULT_EXECUTION_CLASS: &str = "STANDARD";

/// The oldest Glue version a `FLEX` run takes ([`JOBS_API_PAGE`]: "Only jobs with Glue version
/// 3.0 and above and command type glueetl will be allowed to set ExecutionClass to FLEX").
pub const FLEX_NEEDS_GLUE_VERSION: (u32, u32) = (3, 0);

/// The major and minor number of a Glue version (`5.1` is (5, 1)); `None` for a version that
/// is not two numbers.
pub fn version_numbers(version: &str) -> Option<(u32, u32)> {
    let (major, minor) = version.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// What Glue applies, per its documentation, to a value a creator leaves out. `None`: nothing
/// documented, so the value is not known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ServiceDefaults {
    pub number_of_workers: Option<u64>,
    pub worker_type: Option<&'static str>,
    pub timeout_minutes: Option<u64>,
    /// `IdleTimeout` defaults to the session's `Timeout`.
    pub idle_timeout_is_timeout: bool,
}

/// The AWS Regions this build knows: the commercial ones (partition `aws`, opt-in Regions
/// included), AWS GovCloud (US) (`aws-us-gov`) and China (`aws-cn`).
///
/// Source: AWS General Reference, "AWS Regions" (Region codes), as of November 2026. A StackSet
/// can deploy only to a Region that exists (and, for an opt-in Region, is enabled in the target
/// accounts), so `organization.regions` and `stack.region` take only these.
pub const AWS_REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "cn-north-1",
    "cn-northwest-1",
];

/// True for a Region in [`AWS_REGIONS`].
pub fn is_known_region(region: &str) -> bool {
    AWS_REGIONS.contains(&region)
}

/// The partition of a Region's ARNs: `aws-cn` for China, `aws-us-gov` for AWS GovCloud (US),
/// else `aws`.
pub fn partition_of_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_well_formed_as_glues_api_says() {
        // Worker types: ConfigValueString, 1..=128 of [a-zA-Z0-9_.-].
        for good in [
            "G.1X",
            "G.025X",
            "R.8X",
            "Z.2X",
            "X.3X",
            "G.32X",
            "G.1X.GRAVITON",
            "Standard",
            "g.1x",
            "Next-Gen_1",
        ] {
            assert!(is_well_formed_worker_type(good), "{good}");
        }
        for bad in ["", "G.1X ", "G 1X", "G/1X", "G.1X\n", &"G".repeat(129)] {
            assert!(!is_well_formed_worker_type(bad), "{bad}");
        }
        // Glue versions: GlueVersionString, ^(\w+\.)+\w+$, 1..=255.
        for good in ["5.0", "6.1", "10.1", "0.9", "5.0.1", "v5.0", "5_1.a"] {
            assert!(is_well_formed_glue_version(good), "{good}");
        }
        for bad in ["5", "5.", ".0", "5,0", "", "5..0", "5.0 ", "5-0.1"] {
            assert!(!is_well_formed_glue_version(bad), "{bad}");
        }
    }

    #[test]
    fn every_documented_worker_type_and_version_is_known() {
        // AWS Glue worker types (WORKER_TYPES_PAGE), the API's G.025X and Z.2X, and the
        // Graviton G and R types GLUE_6_1_PAGE names.
        let documented = [
            "G.025X", "G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X",
            "R.8X", "Z.2X",
        ];
        for name in documented {
            assert!(worker_type(name).is_some(), "{name}");
        }
        for size in ["1X", "2X", "4X", "8X", "12X", "16X"] {
            assert!(
                worker_type(&format!("G.{size}.GRAVITON")).is_some(),
                "G.{size}"
            );
        }
        for size in ["1X", "2X", "4X", "8X"] {
            assert!(
                worker_type(&format!("R.{size}.GRAVITON")).is_some(),
                "R.{size}"
            );
        }
        for version in ["3.0", "4.0", "5.0", "5.1", "6.0", "6.1"] {
            assert!(
                glue_version(version).is_some_and(|row| row.sessions),
                "{version}"
            );
        }
        for version in ["0.9", "1.0", "2.0"] {
            assert!(
                glue_version(version).is_some_and(|row| !row.sessions),
                "{version}"
            );
        }
        assert!(glue_version("5.0").is_some_and(|row| !row.spark_connect));
        assert!(glue_version("5.1").is_some_and(|row| row.spark_connect));
    }

    #[test]
    fn every_row_is_well_formed_once_and_its_name_says_its_dpus() {
        let mut names: Vec<&str> = WORKER_TYPES.iter().map(|row| row.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WORKER_TYPES.len());
        for row in WORKER_TYPES {
            assert!(is_well_formed_worker_type(row.name), "{}", row.name);
            assert_eq!(dpu_from_name(row.name), Some(row.dpu), "{}", row.name);
            assert!(row.source.url.starts_with("https://docs.aws.amazon.com/"));
        }
        for row in GLUE_VERSIONS {
            assert!(is_well_formed_glue_version(row.version), "{}", row.version);
        }
    }

    #[test]
    fn dpus_come_from_the_name_when_it_follows_glues_naming() {
        assert_eq!(dpu_from_name("X.3X"), Some(3.0));
        assert_eq!(dpu_from_name("G.32X"), Some(32.0));
        assert_eq!(dpu_from_name("G.05X"), Some(0.5));
        assert_eq!(dpu_from_name("G.0125X"), Some(0.125));
        assert_eq!(dpu_from_name("R.4X.GRAVITON"), Some(4.0));
        assert_eq!(dpu_from_name("G.2X.GRAVITON.NEXT"), Some(2.0));
        for unsized_name in [
            "Standard", "G.X", "G.1", "G.1x", "G1X", "G.0X", "G..1X", "1.2X", "G.1X.", "G.12345X",
            "",
        ] {
            assert_eq!(dpu_from_name(unsized_name), None, "{unsized_name}");
        }
    }

    #[test]
    fn scaling_follows_the_arguments_the_profile_first() {
        let of = |pairs: &[(&'static str, &'static str)]| {
            Scaling::of(|key| pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v))
        };
        assert_eq!(of(&[]), Scaling::Fixed);
        assert_eq!(
            of(&[("--enable-auto-scaling", "true")]),
            Scaling::UpTo("--enable-auto-scaling true".into())
        );
        assert_eq!(of(&[("--enable-auto-scaling", "false")]), Scaling::Fixed);
        assert_eq!(
            of(&[("--scaling-profile", "balanced")]),
            Scaling::UpTo("--scaling-profile balanced".into())
        );
        assert_eq!(
            of(&[
                ("--scaling-profile", "disabled"),
                ("--enable-auto-scaling", "true")
            ]),
            Scaling::Fixed
        );
    }

    #[test]
    fn session_types_have_their_names_and_versions() {
        assert_eq!(
            SessionType::from_name("SPARK_CONNECT"),
            Some(SessionType::SparkConnect)
        );
        assert_eq!(SessionType::from_name("spark_connect"), None);
        assert_eq!(SessionType::SparkConnect.needs_glue_version(), Some("5.1"));
        assert_eq!(SessionType::DEFAULT.as_str(), "LIVY");
        assert!(is_well_formed_session_type("NEXT_KIND"));
        assert!(!is_well_formed_session_type("Livy"));
    }

    #[test]
    fn regions_are_listed_once_and_have_their_partition() {
        let mut sorted = AWS_REGIONS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), AWS_REGIONS.len());
        assert!(is_known_region("ap-southeast-7"));
        assert!(!is_known_region("eu-west-4"));
        assert_eq!(partition_of_region("eu-west-1"), "aws");
        assert_eq!(partition_of_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_of_region("cn-northwest-1"), "aws-cn");
        assert_eq!(partition_of_region("us-east-1"), "aws");
    }

    #[test]
    fn only_spark_sessions_have_documented_defaults() {
        assert_eq!(
            CommandName::from_name("glueetl")
                .unwrap()
                .documented_session_defaults()
                .timeout_minutes,
            Some(2880)
        );
        for name in ["gluestreaming", "glueray"] {
            let defaults = CommandName::from_name(name)
                .unwrap()
                .documented_session_defaults();
            assert_eq!(defaults, ServiceDefaults::default(), "{name}");
        }
        assert_eq!(CommandName::from_name("pythonshell"), None);
    }
}
