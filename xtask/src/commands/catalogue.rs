//! `cargo xtask catalogue`: what this build knows about Glue (`policy::catalogue`), each row with
//! the AWS page it comes from, so that a reviewer sees which names a policy may use without a
//! warning, and what a name this build lacks is taken to be.

use std::fmt::{self, Write as _};

use policy::catalogue::{
    self, AUTO_SCALING_PAGE, CommandName, GLUE_6_1_PAGE, JOBS_API_PAGE, JobCommand, MAGICS_PAGE,
    SCALING_PROFILE_PAGE, SESSIONS_API_PAGE, SPARK_CONNECT_PAGE, SessionType, Source,
};
use serde::Serialize;

use crate::Exit;
use crate::output::{self, Answer, Format, Outcome};

#[derive(clap::Args)]
pub struct CatalogueCommand {
    /// Output format: text (one table per kind of name, then the pages), json (one object:
    /// `worker_types`, `glue_versions`, `session_types`, `session_defaults`, `job_defaults`,
    /// `scaling_arguments`, `naming`), markdown (the text in a code block).
    #[arg(long, value_enum, default_value_t)]
    format: Format,
}

impl CatalogueCommand {
    pub fn run(self) -> anyhow::Result<Exit> {
        output::emit(&Catalogue::of_this_build(), self.format)
    }
}

impl Outcome for Catalogue {
    /// Always yes: the catalogue is information.
    fn answer(&self) -> Answer {
        Answer::Yes
    }
}

/// The catalogue as this command shows it.
#[derive(Debug, Serialize)]
pub struct Catalogue {
    pub worker_types: &'static [catalogue::WorkerType],
    pub glue_versions: &'static [catalogue::GlueVersion],
    pub session_types: Vec<SessionTypeRow>,
    pub session_defaults: Vec<DefaultsRow>,
    /// Glue's documented job defaults, by command, before and from the Glue versions where they
    /// change (5.0: the timeout; 6.1: Graviton workers).
    pub job_defaults: Vec<JobDefaultsRow>,
    pub scaling_arguments: Vec<ArgumentRow>,
    /// Facts that change no default for sessions, and why, with their page.
    pub notes: Vec<ArgumentRow>,
    /// How a name this build lacks is read.
    pub naming: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
pub struct SessionTypeRow {
    pub name: &'static str,
    pub default: bool,
    pub needs_glue_version: Option<&'static str>,
    pub source: Source,
}

#[derive(Debug, Serialize)]
pub struct DefaultsRow {
    /// `Command.Name`.
    pub command: &'static str,
    pub defaults: catalogue::ServiceDefaults,
    pub sources: Vec<Source>,
}

#[derive(Debug, Serialize)]
pub struct JobDefaultsRow {
    /// `JobCommand.Name`.
    pub command: &'static str,
    /// The Glue versions the row holds for (`before 5.0`, `5.0 to 6.0`, `6.1 and later`).
    pub glue_versions: &'static str,
    pub defaults: catalogue::JobDefaults,
    pub sources: Vec<Source>,
}

#[derive(Debug, Serialize)]
pub struct ArgumentRow {
    pub argument: &'static str,
    pub meaning: &'static str,
    pub source: Source,
}

const NAMING: &[&str] = &[
    "worker types: 1 to 128 letters, digits, `_`, `.`, `-` (Glue's ConfigValueString); one this \
     build lacks is accepted with a warning",
    "a worker type's DPUs come from this table, else the policy's worker_type_dpu, else its name \
     (`<family>.<size>X[.<variant>]`: G.2X = 2, G.025X = 0.25, G.2X.GRAVITON = 2), else max_dpu \
     fails closed",
    "Glue versions: `^(\\w+\\.)+\\w+$`, 1 to 255 characters (GlueVersionString); one this build \
     lacks is accepted with a warning",
];

impl Catalogue {
    fn of_this_build() -> Catalogue {
        Catalogue {
            worker_types: catalogue::WORKER_TYPES,
            glue_versions: catalogue::GLUE_VERSIONS,
            session_types: SessionType::ALL
                .iter()
                .map(|kind| SessionTypeRow {
                    name: kind.as_str(),
                    default: *kind == SessionType::DEFAULT,
                    needs_glue_version: kind.needs_glue_version(),
                    source: match kind {
                        SessionType::Livy => SESSIONS_API_PAGE,
                        SessionType::SparkConnect => SPARK_CONNECT_PAGE,
                    },
                })
                .collect(),
            session_defaults: [CommandName::Spark, CommandName::Streaming, CommandName::Ray]
                .iter()
                .map(|command| DefaultsRow {
                    command: command.as_str(),
                    defaults: command.documented_session_defaults(),
                    sources: vec![SESSIONS_API_PAGE, MAGICS_PAGE],
                })
                .collect(),
            job_defaults: JobCommand::ALL
                .iter()
                .flat_map(|command| {
                    [
                        ("before 5.0", "4.0"),
                        ("5.0 to 6.0", "5.0"),
                        ("6.1 and later", "6.1"),
                    ]
                    .map(|(versions, example)| JobDefaultsRow {
                        command: command.as_str(),
                        glue_versions: versions,
                        defaults: command.documented_job_defaults(Some(example)),
                        sources: vec![JOBS_API_PAGE, GLUE_6_1_PAGE],
                    })
                })
                .collect(),
            scaling_arguments: vec![
                ArgumentRow {
                    argument: catalogue::AUTO_SCALING_ARGUMENT,
                    meaning: "`true`: auto scaling on, NumberOfWorkers is the most Glue runs",
                    source: AUTO_SCALING_PAGE,
                },
                ArgumentRow {
                    argument: catalogue::SCALING_PROFILE_ARGUMENT,
                    meaning: "`balanced`: the managed scaling profile on (it wins over \
                              --enable-auto-scaling); `disabled`: off",
                    source: SCALING_PROFILE_PAGE,
                },
            ],
            notes: vec![
                ArgumentRow {
                    argument: "G.1X.GRAVITON",
                    meaning: "the default of Glue 6.1 Spark *jobs* created without a WorkerType \
                              (the job defaults above); AWS documents no such default for \
                              interactive sessions, which keep G.1X",
                    source: catalogue::GLUE_6_1_PAGE,
                },
                ArgumentRow {
                    argument: "glue-studio-datapreview-*",
                    meaning: "the ids of the sessions Glue Studio's data previews create: \
                              overrides[].session_ids and exempt_session_ids pick them",
                    source: catalogue::DATA_PREVIEW_PAGE,
                },
            ],
            naming: NAMING.to_vec(),
        }
    }
}

impl fmt::Display for Catalogue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut pages: Vec<Source> = Vec::new();
        let mut cite = |source: Source| -> usize {
            match pages.iter().position(|page| *page == source) {
                Some(i) => i + 1,
                None => {
                    pages.push(source);
                    pages.len()
                }
            }
        };
        let mut out = String::new();
        let _ = writeln!(out, "Worker types (DPUs per worker):");
        for row in self.worker_types {
            let _ = writeln!(
                out,
                "  {:<16} {:>5}  [{}]",
                row.name,
                row.dpu,
                cite(row.source)
            );
        }
        let _ = writeln!(out, "\nGlue versions:");
        for row in self.glue_versions {
            let sessions = if row.sessions {
                "sessions"
            } else {
                "jobs only"
            };
            let connect = if row.spark_connect {
                ", Spark Connect"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "  {:<6} {:<26} [{}]",
                row.version,
                format!("{sessions}{connect}"),
                cite(row.source)
            );
        }
        let _ = writeln!(out, "\nSession types (SessionType):");
        for row in &self.session_types {
            let mut what = Vec::new();
            if row.default {
                what.push("the default".to_string());
            }
            if let Some(version) = row.needs_glue_version {
                what.push(format!("Glue {version} or later"));
            }
            let _ = writeln!(
                out,
                "  {:<14} {:<26} [{}]",
                row.name,
                what.join(", "),
                cite(row.source)
            );
        }
        let _ = writeln!(out, "\nWhat Glue gives a session that leaves a value out:");
        for row in &self.session_defaults {
            let d = row.defaults;
            let text = match (d.number_of_workers, d.worker_type, d.timeout_minutes) {
                (Some(workers), Some(kind), Some(timeout)) => {
                    format!("{workers} x {kind}, timeout {timeout} min, idle timeout = timeout")
                }
                _ => "nothing documented: checks that need it are `unchecked`".to_string(),
            };
            let refs: Vec<String> = row
                .sources
                .iter()
                .map(|source| cite(*source).to_string())
                .collect();
            let _ = writeln!(
                out,
                "  {:<14} {:<58} [{}]",
                row.command,
                text,
                refs.join(", ")
            );
        }
        let _ = writeln!(out, "\nWhat Glue gives a job that leaves a value out:");
        for row in &self.job_defaults {
            let d = row.defaults;
            let size = match (d.number_of_workers, d.worker_type, d.max_capacity) {
                (Some(workers), Some(kind), _) => format!("{workers} x {kind}"),
                (None, Some(kind), _) => format!("{kind} workers, count not documented"),
                (_, _, Some(dpu)) => format!("MaxCapacity {dpu} DPU"),
                _ => "size not documented".to_string(),
            };
            let timeout = match d.timeout_minutes {
                Some(minutes) => format!("timeout {minutes} min"),
                None => "timeout not documented".to_string(),
            };
            let refs: Vec<String> = row
                .sources
                .iter()
                .map(|source| cite(*source).to_string())
                .collect();
            let _ = writeln!(
                out,
                "  {:<14} {:<14} {:<58} [{}]",
                row.command,
                row.glue_versions,
                format!("{size}, {timeout}"),
                refs.join(", ")
            );
        }
        let _ = writeln!(out, "\nScaling arguments (DefaultArguments):");
        for row in &self.scaling_arguments {
            let _ = writeln!(
                out,
                "  {:<22} {} [{}]",
                row.argument,
                row.meaning,
                cite(row.source)
            );
        }
        let _ = writeln!(out, "\nNotes:");
        for row in &self.notes {
            let _ = writeln!(
                out,
                "  {:<26} {} [{}]",
                row.argument,
                row.meaning,
                cite(row.source)
            );
        }
        let _ = writeln!(out, "\nNames this build lacks:");
        for line in &self.naming {
            let _ = writeln!(out, "  - {line}");
        }
        let _ = writeln!(out, "\nSources:");
        for (i, page) in pages.iter().enumerate() {
            let _ = writeln!(out, "  [{}] {}: {}", i + 1, page.page, page.url);
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_names_its_page_in_text_and_json() {
        let table = Catalogue::of_this_build();
        let text = table.to_string();
        for row in catalogue::WORKER_TYPES {
            assert!(text.contains(row.name), "{}", row.name);
            assert!(text.contains(row.source.url), "{}", row.source.url);
        }
        assert!(text.contains("6.1    sessions, Spark Connect"), "{text}");
        assert!(text.contains("2.0    jobs only"), "{text}");
        assert!(text.contains("SPARK_CONNECT  Glue 5.1 or later"), "{text}");
        assert!(
            text.contains("glueetl        6.1 and later  10 x G.1X.GRAVITON, timeout 480 min"),
            "{text}"
        );
        assert!(
            text.contains("pythonshell    before 5.0     MaxCapacity 0.0625 DPU, timeout 2880 min"),
            "{text}"
        );
        let json = serde_json::to_value(&table).unwrap();
        assert_eq!(json["worker_types"][0]["name"], "G.025X");
        assert!(
            json["glue_versions"]
                .as_array()
                .unwrap()
                .iter()
                .all(|row| row["source"]["url"].as_str().is_some())
        );
    }
}
