//! What a long history holds more of than memory should, kept on disk: a backtest's sessions
//! and their ends, sorted in runs and merged back in order (an external merge sort), and the
//! lists of stopped and changed sessions the JSON report gives in full.
//!
//! Each file is anonymous (`tempfile::tempfile`: in `TMPDIR`, gone when closed, even after a
//! crash) and holds items one after another, each its length (4 bytes, little-endian) and its
//! serde encoding in `postcard`. Memory stays flat in the history's length: a sorter holds at
//! most [`RUN_ITEMS`] items before it writes them, and a merge reads at most [`FAN_IN`] runs at
//! once, each through a buffer of [`READ_BUFFER`] bytes. A sorter's runs share one file, read at
//! their offsets, so the files open do not grow with the history either; a list
//! ([`SpillWriter`]) stays in memory while it holds under [`KEPT_BYTES`], and so does a sorter
//! that never fills a run: a short history never touches `TMPDIR`.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Items a [`Sorter`] holds in memory before it writes them, sorted, to a run of their own
/// (a session is about 300 bytes in memory: about 1.2 MB a sorter).
pub const RUN_ITEMS: usize = 4096;

/// Runs a merge reads at once; more are first merged into longer runs, this many at a time.
pub const FAN_IN: usize = 64;

/// Bytes read from a run at a time.
pub const READ_BUFFER: usize = 32 * 1024;

/// Bytes written to a file at a time.
const WRITE_BUFFER: usize = 64 * 1024;

fn invalid(error: postcard::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, error)
}

/// postcard's output into a `Vec` kept between items, bytes copied as slices.
struct Appended<'v>(&'v mut Vec<u8>);

impl postcard::ser_flavors::Flavor for Appended<'_> {
    type Output = ();

    fn try_push(&mut self, byte: u8) -> postcard::Result<()> {
        self.0.push(byte);
        Ok(())
    }

    fn try_extend(&mut self, bytes: &[u8]) -> postcard::Result<()> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }

    fn finalize(self) -> postcard::Result<()> {
        Ok(())
    }
}

/// `item`'s encoding, in place of what `out` held.
pub(crate) fn encode<T: Serialize + ?Sized>(item: &T, out: &mut Vec<u8>) -> postcard::Result<()> {
    out.clear();
    postcard::serialize_with_flavor(item, Appended(out))
}

/// Writes one item: its length, then its encoding (`scratch` is reused between items).
fn write_item<T: Serialize>(
    out: &mut impl Write,
    item: &T,
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    encode(item, scratch).map_err(invalid)?;
    let length = u32::try_from(scratch.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "an item over 4 GiB"))?;
    out.write_all(&length.to_le_bytes())?;
    out.write_all(scratch)?;
    Ok(())
}

/// The largest item a file may hold: a length above it is damage, not an item (a session is
/// a few hundred bytes).
const MOST_ITEM_BYTES: usize = 1 << 26;

/// Reads the next item's bytes into `scratch`; `false` at the end of the file (exactly between
/// two items: a length cut short, or an item, is an error).
fn next_bytes(input: &mut impl Read, scratch: &mut Vec<u8>) -> io::Result<bool> {
    let mut length = [0u8; 4];
    let first = loop {
        match input.read(&mut length[..1]) {
            Ok(read) => break read,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    };
    if first == 0 {
        return Ok(false);
    }
    input.read_exact(&mut length[1..])?;
    let length = u32::from_le_bytes(length) as usize;
    if length > MOST_ITEM_BYTES {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("an item of {length} bytes: the file is damaged"),
        ));
    }
    scratch.resize(length, 0);
    input.read_exact(scratch)?;
    Ok(true)
}

fn read_item<T: DeserializeOwned>(
    input: &mut impl Read,
    scratch: &mut Vec<u8>,
) -> io::Result<Option<T>> {
    if !next_bytes(input, scratch)? {
        return Ok(None);
    }
    postcard::from_bytes(scratch).map(Some).map_err(invalid)
}

/// Appends `items` to `file` (at its end) as one run.
fn write_run<T: Serialize>(
    mut file: &File,
    items: impl IntoIterator<Item = io::Result<T>>,
) -> io::Result<Run> {
    let start = file.seek(SeekFrom::End(0))?;
    let mut out = BufWriter::with_capacity(WRITE_BUFFER, file);
    let mut scratch = Vec::new();
    for item in items {
        write_item(&mut out, &item?, &mut scratch)?;
    }
    out.flush()?;
    drop(out);
    let end = file.stream_position()?;
    Ok(Run { start, end })
}

/// A run: bytes `start..end` of its sorter's file.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    end: u64,
}

/// Reads a run from a file many runs share, at its own offset (each reader independent of the
/// file's cursor).
struct RunReader {
    file: Arc<File>,
    at: u64,
    end: u64,
}

impl Read for RunReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let wanted = out.len().min(left);
        if wanted == 0 {
            return Ok(0);
        }
        let read = read_at(&self.file, &mut out[..wanted], self.at)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "a temporary file is shorter than what was written to it",
            ));
        }
        self.at += read as u64;
        Ok(read)
    }
}

#[cfg(unix)]
fn read_at(file: &File, out: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, out, at)
}

#[cfg(windows)]
fn read_at(file: &File, out: &mut [u8], at: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, out, at)
}

/// What a [`Sorter`] sorts: items in their [`Ord`] order, and a number that orders them first
/// and is cheap to compare, so that a run is sorted by numbers and only items with equal numbers
/// are compared whole.
pub trait Sortable: Ord {
    /// A number that agrees with the order: when `a.prefix() < b.prefix()`, then `a < b`
    /// (items with equal prefixes may be in either order).
    fn prefix(&self) -> u64;
}

/// Items sorted outside memory: pushed in any order, given back in ascending order (items
/// that compare equal in an unspecified order). Its runs share one file (however many there
/// are, a sorter holds one file open; sorters appended to it bring theirs).
pub struct Sorter<T> {
    buffer: Vec<T>,
    /// The files its runs are in; made at the first run.
    files: Vec<File>,
    /// Each sorted: its file (an index in `files`) and where in it.
    runs: Vec<(usize, Run)>,
    run_items: usize,
}

impl<T> Default for Sorter<T> {
    fn default() -> Sorter<T> {
        Sorter::with_run_items(RUN_ITEMS)
    }
}

impl<T> std::fmt::Debug for Sorter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sorter")
            .field("in_memory", &self.buffer.len())
            .field("runs", &self.runs.len())
            .finish()
    }
}

impl<T> Sorter<T> {
    /// A sorter writing a run each `run_items` items (at least 1, at most `u32::MAX`).
    pub fn with_run_items(run_items: usize) -> Sorter<T> {
        Sorter {
            buffer: Vec::new(),
            files: Vec::new(),
            runs: Vec::new(),
            run_items: run_items.clamp(1, u32::MAX as usize),
        }
    }

    /// The runs written so far.
    #[cfg(test)]
    pub fn runs(&self) -> usize {
        self.runs.len()
    }
}

impl<T: Sortable + Serialize + DeserializeOwned> Sorter<T> {
    /// Adds `item`; errors are the file's (a full disk).
    pub fn push(&mut self, item: T) -> io::Result<()> {
        self.buffer.push(item);
        if self.buffer.len() >= self.run_items {
            let items = std::mem::take(&mut self.buffer);
            let order = order_of(&items);
            if self.files.is_empty() {
                self.files.push(tempfile::tempfile()?);
            }
            let run = write_run(
                &self.files[0],
                order.iter().map(|&at| Ok(&items[at as usize])),
            )?;
            self.runs.push((0, run));
        }
        Ok(())
    }

    /// Adds every item of `other`.
    pub fn append(&mut self, other: Sorter<T>) -> io::Result<()> {
        let first = self.files.len();
        self.files.extend(other.files);
        self.runs.extend(
            other
                .runs
                .into_iter()
                .map(|(file, run)| (first + file, run)),
        );
        for item in other.buffer {
            self.push(item)?;
        }
        Ok(())
    }

    /// Every item, in order.
    pub fn sorted(self) -> io::Result<Merge<T>> {
        let files: Vec<Arc<File>> = self.files.into_iter().map(Arc::new).collect();
        let mut runs: Vec<Source<T>> = self
            .runs
            .into_iter()
            .map(|(file, run)| Source::run(&files[file], run))
            .collect();
        // More runs than one merge reads: merged first, FAN_IN at a time, into longer runs.
        if runs.len() > FAN_IN {
            let longer = Arc::new(tempfile::tempfile()?);
            while runs.len() > FAN_IN {
                let group: Vec<Source<T>> = runs.drain(..FAN_IN).collect();
                let run = write_run(&longer, Merge::of(group)?)?;
                runs.push(Source::run(&longer, run));
            }
        }
        // Fewer than a run: sorted where they are.
        let mut in_memory = self.buffer;
        in_memory.sort_unstable_by(|a, b| a.prefix().cmp(&b.prefix()).then_with(|| a.cmp(b)));
        let mut sources = vec![Source::Memory(in_memory.into_iter())];
        sources.extend(runs);
        Merge::of(sources)
    }
}

/// The order of `items` (at most `u32::MAX`), as their indices: sorted as (prefix, index)
/// pairs, 12 bytes each moved rather than the items, the items compared only where their
/// prefixes are equal.
fn order_of<T: Sortable>(items: &[T]) -> Vec<u32> {
    let mut order: Vec<(u64, u32)> = items
        .iter()
        .zip(0..u32::MAX)
        .map(|(item, at)| (item.prefix(), at))
        .collect();
    // Equal items in the order they came: every order of them is fine, this one is fixed.
    order.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| items[a.1 as usize].cmp(&items[b.1 as usize]))
            .then(a.1.cmp(&b.1))
    });
    order.into_iter().map(|(_, at)| at).collect()
}

/// Where a merge reads one sorted sequence from.
enum Source<T> {
    Memory(std::vec::IntoIter<T>),
    File(BufReader<RunReader>),
}

impl<T> Source<T> {
    /// `run` of `file`, read through a buffer of [`READ_BUFFER`] bytes.
    fn run(file: &Arc<File>, run: Run) -> Source<T> {
        Source::File(BufReader::with_capacity(
            READ_BUFFER,
            RunReader {
                file: file.clone(),
                at: run.start,
                end: run.end,
            },
        ))
    }
}

/// Sorted sequences read as one, in order: an iterator of `io::Result<T>` that ends after its
/// first error.
pub struct Merge<T> {
    sources: Vec<Source<T>>,
    /// The next item of each source, with its prefix ([`Sortable`]), where it stays until it
    /// is handed over: items are large, so the heap orders the sources rather than moving the
    /// items.
    heads: Vec<Option<(u64, T)>>,
    /// The sources that have a next item, as a binary min-heap by (prefix, item, source).
    heap: Vec<usize>,
    scratch: Vec<u8>,
    /// A source's failure, given after the item before it; then nothing more.
    error: Option<io::Error>,
    failed: bool,
}

impl<T: Sortable + DeserializeOwned> Merge<T> {
    fn of(sources: Vec<Source<T>>) -> io::Result<Merge<T>> {
        let mut merge = Merge {
            heads: (0..sources.len()).map(|_| None).collect(),
            heap: Vec::with_capacity(sources.len()),
            sources,
            scratch: Vec::new(),
            error: None,
            failed: false,
        };
        for source in 0..merge.sources.len() {
            merge.refill(source)?;
        }
        Ok(merge)
    }

    /// Reads `source`'s next item into its head and puts the source in the heap; a source at
    /// its end leaves it.
    fn refill(&mut self, source: usize) -> io::Result<()> {
        let next = match &mut self.sources[source] {
            Source::Memory(items) => items.next(),
            Source::File(reader) => read_item(reader, &mut self.scratch)?,
        };
        if let Some(next) = next {
            self.heads[source] = Some((next.prefix(), next));
            self.heap.push(source);
            self.sift_up(self.heap.len() - 1);
        }
        Ok(())
    }

    /// Whether source `a`'s head comes before source `b`'s (ties: the earlier source).
    fn before(&self, a: usize, b: usize) -> bool {
        match (&self.heads[a], &self.heads[b]) {
            (Some((x_prefix, x)), Some((y_prefix, y))) => x_prefix
                .cmp(y_prefix)
                .then_with(|| x.cmp(y))
                .then(a.cmp(&b))
                .is_lt(),
            _ => {
                debug_assert!(false, "only sources with a head are in the heap");
                a < b
            }
        }
    }

    fn sift_up(&mut self, mut at: usize) {
        while at > 0 {
            let parent = (at - 1) / 2;
            if !self.before(self.heap[at], self.heap[parent]) {
                break;
            }
            self.heap.swap(at, parent);
            at = parent;
        }
    }

    fn sift_down(&mut self, mut at: usize) {
        loop {
            let (left, right) = (2 * at + 1, 2 * at + 2);
            let mut least = at;
            for child in [left, right] {
                if child < self.heap.len() && self.before(self.heap[child], self.heap[least]) {
                    least = child;
                }
            }
            if least == at {
                return;
            }
            self.heap.swap(at, least);
            at = least;
        }
    }

    /// Takes the smallest head out, with its source; the source leaves the heap.
    fn pop(&mut self) -> Option<(T, usize)> {
        let source = *self.heap.first()?;
        let last = self.heap.pop().unwrap_or(source);
        if !self.heap.is_empty() {
            self.heap[0] = last;
            self.sift_down(0);
        }
        Some((self.heads[source].take()?.1, source))
    }
}

impl<T: Sortable + DeserializeOwned> Iterator for Merge<T> {
    type Item = io::Result<T>;

    fn next(&mut self) -> Option<io::Result<T>> {
        if self.failed {
            return None;
        }
        if let Some(error) = self.error.take() {
            self.failed = true;
            return Some(Err(error));
        }
        let (item, source) = self.pop()?;
        // The failed source's next item would not have come before this one.
        self.error = self.refill(source).err();
        Some(Ok(item))
    }
}

/// Items a merge hands over at a time, and how many such batches may wait.
const BATCH: usize = 512;
const BATCHES_WAITING: usize = 4;

impl<T: Sortable + DeserializeOwned + Send> Merge<T> {
    /// Hands every item to `each`, in order, on this thread while another reads and merges the
    /// next ones (reading is half the work: the two cores share it). Stops at the first error,
    /// the merge's or `each`'s.
    pub fn for_each_in_turn(self, mut each: impl FnMut(T) -> io::Result<()>) -> io::Result<()> {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<T>>(BATCHES_WAITING);
        std::thread::scope(|scope| {
            let reading = scope.spawn(move || -> io::Result<()> {
                let mut batch = Vec::with_capacity(BATCH);
                for item in self {
                    batch.push(item?);
                    if batch.len() == BATCH {
                        let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                        if send.send(full).is_err() {
                            // The receiving side stopped at an error of its own.
                            return Ok(());
                        }
                    }
                }
                let _ = send.send(batch);
                Ok(())
            });
            let mut outcome = Ok(());
            'batches: for batch in receive.iter() {
                for item in batch {
                    if let Err(error) = each(item) {
                        outcome = Err(error);
                        break 'batches;
                    }
                }
            }
            // Ends the reading thread's sends, if it is still sending.
            drop(receive);
            let read = reading
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            outcome.and(read)
        })
    }
}

/// Bytes of items a [`SpillWriter`] holds in memory before it moves them to a file: a short list
/// never needs `TMPDIR`.
pub const KEPT_BYTES: usize = 1 << 20;

/// Items written one after another, read back in the order written (from any thread, one
/// reader at a time): in memory while they fit in [`KEPT_BYTES`], else in a file.
#[derive(Debug)]
pub struct Spilled<T> {
    store: Store,
    _items: PhantomData<fn() -> T>,
}

#[derive(Debug)]
enum Store {
    Memory(Vec<u8>),
    File(Mutex<File>),
}

/// Writes a [`Spilled`].
pub struct SpillWriter<T> {
    memory: Vec<u8>,
    /// Made when `memory` outgrows [`KEPT_BYTES`], which is then written to it.
    out: Option<BufWriter<File>>,
    items: u64,
    scratch: Vec<u8>,
    _items: PhantomData<fn(&T)>,
}

impl<T> Default for SpillWriter<T> {
    fn default() -> SpillWriter<T> {
        SpillWriter {
            memory: Vec::new(),
            out: None,
            items: 0,
            scratch: Vec::new(),
            _items: PhantomData,
        }
    }
}

impl<T: Serialize> SpillWriter<T> {
    /// Appends `item`, which is item number [`SpillWriter::written`] (from 0).
    pub fn push(&mut self, item: &T) -> io::Result<()> {
        match &mut self.out {
            Some(out) => write_item(out, item, &mut self.scratch)?,
            None => {
                write_item(&mut self.memory, item, &mut self.scratch)?;
                if self.memory.len() > KEPT_BYTES {
                    let mut out = BufWriter::with_capacity(WRITE_BUFFER, tempfile::tempfile()?);
                    out.write_all(&self.memory)?;
                    self.memory = Vec::new();
                    self.out = Some(out);
                }
            }
        }
        self.items += 1;
        Ok(())
    }

    /// Items written so far.
    pub fn written(&self) -> u64 {
        self.items
    }

    /// The items written, for reading (`None` when there were none).
    pub fn finish(self) -> io::Result<Option<Spilled<T>>> {
        let store = match self.out {
            None if self.items == 0 => return Ok(None),
            None => Store::Memory(self.memory),
            Some(out) => Store::File(Mutex::new(
                out.into_inner().map_err(io::IntoInnerError::into_error)?,
            )),
        };
        Ok(Some(Spilled {
            store,
            _items: PhantomData,
        }))
    }
}

impl<T: DeserializeOwned> Spilled<T> {
    /// Whether the items went to a file.
    #[cfg(test)]
    pub fn on_disk(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// Hands each item from number `from` (0 is the first written) to `each`, in order;
    /// stops at `each`'s first error, or at the file's (turned into `each`'s by `io_error`).
    pub fn read_from<E>(
        &self,
        from: u64,
        io_error: impl Fn(io::Error) -> E,
        each: impl FnMut(T) -> Result<(), E>,
    ) -> Result<(), E> {
        match &self.store {
            Store::Memory(bytes) => read_items(&mut &bytes[..], from, &io_error, each),
            Store::File(file) => {
                let mut file = file.lock().unwrap_or_else(|poison| poison.into_inner());
                file.seek(SeekFrom::Start(0)).map_err(&io_error)?;
                let mut reader = BufReader::with_capacity(READ_BUFFER, &mut *file);
                read_items(&mut reader, from, &io_error, each)
            }
        }
    }
}

fn read_items<T: DeserializeOwned, E>(
    input: &mut impl Read,
    from: u64,
    io_error: &impl Fn(io::Error) -> E,
    mut each: impl FnMut(T) -> Result<(), E>,
) -> Result<(), E> {
    let mut scratch = Vec::new();
    let mut number = 0u64;
    while next_bytes(input, &mut scratch).map_err(io_error)? {
        if number >= from {
            let item = postcard::from_bytes(&scratch)
                .map_err(invalid)
                .map_err(io_error)?;
            each(item)?;
        }
        number += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Sortable for (u64, String) {
        fn prefix(&self) -> u64 {
            self.0
        }
    }

    impl Sortable for u64 {
        fn prefix(&self) -> u64 {
            *self
        }
    }

    /// A deterministic scramble of 0..n (a multiplicative step coprime with n).
    fn scrambled(n: u64) -> Vec<(u64, String)> {
        (0..n)
            .map(|i| {
                let value = (i * 7919) % n;
                (value / 3, format!("item-{value}"))
            })
            .collect()
    }

    fn sorted_with(run_items: usize, items: &[(u64, String)]) -> Vec<(u64, String)> {
        let mut sorter = Sorter::with_run_items(run_items);
        for item in items {
            sorter.push(item.clone()).unwrap();
        }
        sorter.sorted().unwrap().map(Result::unwrap).collect()
    }

    #[test]
    fn items_come_back_sorted_however_many_runs_they_took() {
        let items = scrambled(10_007);
        let mut expected = items.clone();
        expected.sort();
        // All in memory; a few runs; more runs than one merge reads (merged in two levels).
        for run_items in [100_000, 1000, 7] {
            assert_eq!(
                sorted_with(run_items, &items),
                expected,
                "runs of {run_items}"
            );
        }
        let mut sorter = Sorter::with_run_items(7);
        for item in &items {
            sorter.push(item.clone()).unwrap();
        }
        assert!(sorter.runs() > FAN_IN, "the test reaches the second level");
        assert_eq!(sorter.files.len(), 1, "its runs share one file");
    }

    /// Ordered by `key` alone: equal items that are told apart by `tag`.
    #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
    struct Keyed {
        key: u32,
        tag: u32,
    }
    impl PartialEq for Keyed {
        fn eq(&self, other: &Keyed) -> bool {
            self.key == other.key
        }
    }
    impl Eq for Keyed {}
    impl PartialOrd for Keyed {
        fn partial_cmp(&self, other: &Keyed) -> Option<std::cmp::Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Keyed {
        fn cmp(&self, other: &Keyed) -> std::cmp::Ordering {
            self.key.cmp(&other.key)
        }
    }
    impl Sortable for Keyed {
        fn prefix(&self) -> u64 {
            u64::from(self.key)
        }
    }

    /// Equal items come out by their source: the items still in memory first, then the runs
    /// in the order they were written.
    #[test]
    fn equal_items_come_out_in_the_order_of_their_sources() {
        let mut sorter = Sorter::with_run_items(5);
        // Twelve runs of keys 0..5, each tagged with its run; one more item stays in memory.
        for run in 0..12 {
            for key in (0..5).rev() {
                sorter.push(Keyed { key, tag: run }).unwrap();
            }
        }
        sorter.push(Keyed { key: 3, tag: 99 }).unwrap();
        let got: Vec<(u32, u32)> = sorter
            .sorted()
            .unwrap()
            .map(|item| item.map(|k| (k.key, k.tag)).unwrap())
            .collect();
        let mut expected = Vec::new();
        for key in 0..5 {
            if key == 3 {
                expected.push((3, 99));
            }
            expected.extend((0..12).map(|run| (key, run)));
        }
        assert_eq!(got, expected);
    }

    #[test]
    fn sorters_appended_give_every_item_of_both() {
        let items = scrambled(1000);
        let (left, right) = items.split_at(333);
        let mut a = Sorter::with_run_items(50);
        let mut b = Sorter::with_run_items(50);
        left.iter().for_each(|item| a.push(item.clone()).unwrap());
        right.iter().for_each(|item| b.push(item.clone()).unwrap());
        a.append(b).unwrap();
        let mut expected = items.clone();
        expected.sort();
        let got: Vec<(u64, String)> = a.sorted().unwrap().map(Result::unwrap).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn items_handed_over_in_turn_come_in_order_and_an_error_stops_both_sides() {
        let items = scrambled(5000);
        let mut expected = items.clone();
        expected.sort();
        let sorter = |items: &[(u64, String)]| {
            let mut sorter = Sorter::with_run_items(300);
            items
                .iter()
                .for_each(|item| sorter.push(item.clone()).unwrap());
            sorter
        };
        let mut got = Vec::new();
        sorter(&items)
            .sorted()
            .unwrap()
            .for_each_in_turn(|item| {
                got.push(item);
                Ok(())
            })
            .unwrap();
        assert_eq!(got, expected);
        // The receiving side fails at the 1000th item: that error is the outcome, and the
        // reading side stops (the call returns).
        let mut seen = 0;
        let error = sorter(&items)
            .sorted()
            .unwrap()
            .for_each_in_turn(|_| {
                seen += 1;
                if seen == 1000 {
                    return Err(io::Error::other("full"));
                }
                Ok(())
            })
            .unwrap_err();
        assert_eq!((error.to_string(), seen), ("full".to_string(), 1000));
    }

    #[test]
    fn a_cut_length_or_an_impossible_one_is_damage_not_the_end() {
        let mut two = &[7u8, 0][..];
        let error = next_bytes(&mut two, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        let mut huge = &u32::MAX.to_le_bytes()[..];
        let error = next_bytes(&mut huge, &mut Vec::new()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(!next_bytes(&mut &[][..], &mut Vec::new()).unwrap());
    }

    #[test]
    fn a_damaged_run_is_an_error_and_ends_the_merge() {
        // A run of one good item (3), then a length of 200 bytes with 3 bytes behind it.
        let mut file = tempfile::tempfile().unwrap();
        write_item(&mut file, &3u64, &mut Vec::new()).unwrap();
        file.write_all(&200u32.to_le_bytes()).unwrap();
        file.write_all(&[1, 2, 3]).unwrap();
        let end = file.stream_position().unwrap();
        let sorter: Sorter<u64> = Sorter {
            buffer: vec![5],
            files: vec![file],
            runs: vec![(0, Run { start: 0, end })],
            run_items: 10,
        };
        let mut merge = sorter.sorted().unwrap();
        // 3 is given; reading what follows it fails, and the merge ends there (5 is not given
        // as if nothing were missing).
        assert_eq!(merge.next().unwrap().unwrap(), 3);
        let error = merge.next().unwrap().unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(merge.next().is_none());
    }

    #[test]
    fn a_spilled_list_reads_back_from_any_item_in_memory_or_on_disk() {
        // 500 short items stay in memory; 500 of 4 KiB each go to a file.
        for (pad, on_disk) in [(0, false), (4096, true)] {
            let mut writer = SpillWriter::default();
            for i in 0..500u64 {
                writer
                    .push(&(i, format!("row {i}"), "x".repeat(pad)))
                    .unwrap();
            }
            assert_eq!(writer.written(), 500);
            let spilled: Spilled<(u64, String, String)> = writer.finish().unwrap().unwrap();
            assert_eq!(spilled.on_disk(), on_disk);
            let mut read = Vec::new();
            spilled
                .read_from(
                    498,
                    |e| e,
                    |item| {
                        read.push(item.0);
                        Ok(())
                    },
                )
                .unwrap();
            assert_eq!(read, [498, 499]);
        }
        let mut writer = SpillWriter::default();
        for i in 0..500u64 {
            writer.push(&(i, format!("row {i}"))).unwrap();
        }
        let spilled: Spilled<(u64, String)> = writer.finish().unwrap().unwrap();
        for from in [0, 1, 499, 500, 600] {
            let mut read = Vec::new();
            spilled
                .read_from(
                    from,
                    |e| e,
                    |item| {
                        read.push(item);
                        Ok(())
                    },
                )
                .unwrap();
            let expected: Vec<(u64, String)> = (from.min(500)..500)
                .map(|i| (i, format!("row {i}")))
                .collect();
            assert_eq!(read, expected, "from {from}");
        }
        // Twice: each read starts at the beginning.
        let mut count = 0;
        spilled
            .read_from(
                0,
                |e| e,
                |_| {
                    count += 1;
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(count, 500);
        assert!(SpillWriter::<u64>::default().finish().unwrap().is_none());
    }
}
