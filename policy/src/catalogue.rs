//! The Glue catalogue: what this build knows about Glue itself. The worker types with the DPUs
//! one worker counts for, the Glue versions interactive sessions accept, and the defaults Glue
//! documents for what a creator leaves out, per session type. Data only: a policy never waits
//! for a release of this table (a well-formed name it lacks is accepted with a warning, and a
//! policy may give the DPU of a worker type it lacks with `worker_type_dpu`). Beside it, the AWS
//! Regions an organization-wide deployment may target, which must exist: a Region this table
//! lacks is refused, not warned about.

/// Glue worker types and the DPUs one worker of each type counts for.
///
/// Source: AWS Glue Developer Guide, "Defining job properties for Spark jobs" (Worker type:
/// G.025X 0.25 DPU, G.1X 1, G.2X 2, G.4X 4, G.8X 8, G.12X 12, G.16X 16; the memory-optimized
/// R.1X 1, R.2X 2, R.4X 4, R.8X 8) and "Working with Ray jobs" (Z.2X: 2 M-DPU).
pub const WORKER_TYPES: &[(&str, f64)] = &[
    ("G.025X", 0.25),
    ("G.1X", 1.0),
    ("G.2X", 2.0),
    ("G.4X", 4.0),
    ("G.8X", 8.0),
    ("G.12X", 12.0),
    ("G.16X", 16.0),
    ("R.1X", 1.0),
    ("R.2X", 2.0),
    ("R.4X", 4.0),
    ("R.8X", 8.0),
    ("Z.2X", 2.0),
];

/// Glue versions interactive sessions accept.
///
/// Source: AWS Glue API reference, "Interactive sessions API", `CreateSession`: "The GlueVersion
/// must be greater than 2.0"; Glue 6.0 is the newest ("AWS Glue versions").
pub const GLUE_VERSIONS: &[&str] = &["3.0", "4.0", "5.0", "6.0"];

/// DPUs of one worker of `worker_type` in this catalogue, or `None` for a type it lacks.
pub fn dpu_per_worker(worker_type: &str) -> Option<f64> {
    WORKER_TYPES
        .iter()
        .find(|(name, _)| *name == worker_type)
        .map(|(_, dpu)| *dpu)
}

/// True for a name shaped like Glue's worker types: a capital letter, `.`, digits (a leading
/// `0` allowed, as in `G.025X`), then `X`. Such a name the catalogue lacks is accepted with a
/// warning: Glue ships new types before this table learns them.
pub fn is_worker_type_shaped(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 4
        && bytes.len() <= 16
        && bytes[0].is_ascii_uppercase()
        && bytes[1] == b'.'
        && bytes[bytes.len() - 1] == b'X'
        && bytes[2..bytes.len() - 1].iter().all(u8::is_ascii_digit)
}

/// True for a name shaped like a Glue version: digits, `.`, digits (`5.0`).
pub fn is_glue_version_shaped(name: &str) -> bool {
    let Some((major, minor)) = name.split_once('.') else {
        return false;
    };
    let digits =
        |part: &str| (1..=3).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// The AWS Regions this build knows: the commercial ones (partition `aws`, opt-in Regions
/// included), AWS GovCloud (US) (`aws-us-gov`) and China (`aws-cn`).
///
/// Source: AWS General Reference, "AWS Regions" (Region codes), as of November 2026. A StackSet
/// can deploy only to a Region that exists (and, for an opt-in Region, is enabled in the target
/// accounts), so `organization.regions` takes only these.
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

/// The kind of session, from `Command.Name`. Which defaults Glue applies depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionType {
    /// `glueetl`: Spark.
    Spark,
    /// `gluestreaming`: Spark streaming.
    Streaming,
    /// `glueray`: Ray.
    Ray,
}

impl SessionType {
    /// The session type for `Command.Name`; `None` for a name Glue does not document.
    pub fn from_command_name(name: &str) -> Option<SessionType> {
        match name {
            "glueetl" => Some(SessionType::Spark),
            "gluestreaming" => Some(SessionType::Streaming),
            "glueray" => Some(SessionType::Ray),
            _ => None,
        }
    }

    /// Glue's own name (`Command.Name`).
    pub fn command_name(self) -> &'static str {
        match self {
            SessionType::Spark => "glueetl",
            SessionType::Streaming => "gluestreaming",
            SessionType::Ray => "glueray",
        }
    }

    /// The defaults Glue documents for what a creator of this type of session leaves out.
    pub fn documented_defaults(self) -> ServiceDefaults {
        match self {
            // AWS Glue API reference, "Interactive sessions API", CreateSession: `Timeout`
            // "Default for Spark ETL jobs is 48 hours (2880 minutes)"; `IdleTimeout` "Default
            // for Spark ETL jobs is value of Timeout". AWS Glue Developer Guide, "Configuring
            // AWS Glue interactive sessions for Jupyter and AWS Glue Studio notebooks" (magics):
            // `%number_of_workers` default 5, `%worker_type` default G.1X.
            SessionType::Spark => ServiceDefaults {
                number_of_workers: Some(5),
                worker_type: Some("G.1X"),
                timeout_minutes: Some(2880),
                idle_timeout_is_timeout: true,
            },
            // The same CreateSession reference says "Consult the documentation for other job
            // types", and no page gives session defaults for streaming or Ray: left out values
            // of these sessions are not guessed (their checks are `unchecked`).
            SessionType::Streaming | SessionType::Ray => ServiceDefaults::default(),
        }
    }
}

/// What Glue applies, per its documentation, to a value a creator leaves out. `None`: nothing
/// documented, so the value is not known.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServiceDefaults {
    pub number_of_workers: Option<u64>,
    pub worker_type: Option<&'static str>,
    pub timeout_minutes: Option<u64>,
    /// `IdleTimeout` defaults to the session's `Timeout`.
    pub idle_timeout_is_timeout: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_judged_by_shape() {
        for good in ["G.1X", "G.025X", "R.8X", "Z.2X", "X.3X", "G.32X"] {
            assert!(is_worker_type_shaped(good), "{good}");
        }
        for bad in [
            "g.1x", "G1X", "G.X", "G.1", "G.1XX", "", "Standard", "G.1X ",
        ] {
            assert!(!is_worker_type_shaped(bad), "{bad}");
        }
        for good in ["5.0", "6.0", "10.1", "0.9"] {
            assert!(is_glue_version_shaped(good), "{good}");
        }
        for bad in ["5", "5.", ".0", "v5.0", "5.0.1", "5,0", ""] {
            assert!(!is_glue_version_shaped(bad), "{bad}");
        }
    }

    #[test]
    fn every_catalogued_name_is_well_formed() {
        assert!(
            WORKER_TYPES
                .iter()
                .all(|(name, _)| is_worker_type_shaped(name))
        );
        assert!(GLUE_VERSIONS.iter().all(|v| is_glue_version_shaped(v)));
        assert_eq!(dpu_per_worker("R.2X"), Some(2.0));
        assert_eq!(dpu_per_worker("G.025X"), Some(0.25));
        assert_eq!(dpu_per_worker("X.3X"), None);
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
            SessionType::from_command_name("glueetl")
                .unwrap()
                .documented_defaults()
                .timeout_minutes,
            Some(2880)
        );
        for name in ["gluestreaming", "glueray"] {
            let defaults = SessionType::from_command_name(name)
                .unwrap()
                .documented_defaults();
            assert_eq!(defaults, ServiceDefaults::default(), "{name}");
        }
        assert_eq!(SessionType::from_command_name("pythonshell"), None);
    }
}
