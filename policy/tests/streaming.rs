//! A trail log file is read one record at a time: reading a 100 MB `{"Records": [...]}` file
//! takes no more memory than a small one. Its own test binary, so no other test's allocations
//! share the process whose peak memory (VmHWM) it reads.

use std::io::Read;

use policy::records::{Item, for_each_item};

/// A `{"Records": [...]}` log file of `count` CloudTrail records, made as it is read: the test
/// itself never holds the file.
struct TrailFile {
    count: usize,
    next: usize,
    pending: Vec<u8>,
    at: usize,
}

const RECORD: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::123456789012:user/bob","accountId":"123456789012"},"eventTime":"2026-11-29T09:00:00Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","awsRegion":"eu-west-1","sourceIPAddress":"203.0.113.10","userAgent":"aws-sdk-python/1.35 Boto3","requestParameters":{"bucketName":"analytics-landing","key":"2026/11/29/part-0000.parquet"},"responseElements":null,"requestID":"11111111-2222-3333-4444-555555555555","eventID":"66666666-7777-8888-9999-000000000000","readOnly":true,"eventType":"AwsApiCall","managementEvent":false,"recipientAccountId":"123456789012","eventCategory":"Data","padding":"PADDING"}"#;

impl TrailFile {
    fn new(count: usize) -> TrailFile {
        TrailFile {
            count,
            next: 0,
            pending: b"{\"Records\": [".to_vec(),
            at: 0,
        }
    }
}

impl Read for TrailFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.pending.len() {
            self.pending.clear();
            self.at = 0;
            if self.next < self.count {
                if self.next > 0 {
                    self.pending.push(b',');
                }
                self.pending
                    .extend_from_slice(RECORD.replace("PADDING", &"x".repeat(600)).as_bytes());
                self.next += 1;
                if self.next == self.count {
                    self.pending.extend_from_slice(b"]}");
                }
            } else {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.pending.len() - self.at);
        buf[..n].copy_from_slice(&self.pending[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// The process's peak resident memory so far, in KiB (Linux: `VmHWM` in /proc/self/status).
fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn a_100_mb_log_file_streams_in_flat_memory() {
    let record_bytes = RECORD.len() + 600;
    let count = 100 * 1024 * 1024 / record_bytes;
    let read = |count: usize| {
        let mut seen = 0usize;
        let total = for_each_item(TrailFile::new(count), |item| {
            assert!(matches!(item, Item::Record(_)));
            seen += 1;
        })
        .unwrap();
        assert_eq!((total, seen), (count, count));
    };
    read(1_000);
    let before = peak_kib();
    read(count);
    let grown_kib = peak_kib().saturating_sub(before);
    // Holding the file would take 100 MB (more as JSON values); streaming takes what one record
    // and the reader's buffer take.
    assert!(
        grown_kib < 16 * 1024,
        "reading {count} records ({} MB) grew the peak by {grown_kib} KiB",
        count * record_bytes / 1024 / 1024
    );
}
