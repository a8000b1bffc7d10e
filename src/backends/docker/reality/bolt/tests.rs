//! The reader against files built here page by page in bbolt's layout (the real thing, a
//! node's containerd database, is read in tests/it/docker_reality_host.rs).

use std::fs::File;
use std::io::Write;

use super::*;

const PAGE: usize = 512;

/// What a leaf element holds, to build it.
enum Put<'a> {
    Data(&'a [u8]),
    /// A bucket whose tree starts at this page.
    Paged(u64),
    /// A bucket inline: its leaf page's bytes.
    Inline(Vec<u8>),
}

fn header(id: u64, flags: u16, count: u16, overflow: u32) -> Vec<u8> {
    let mut h = Vec::new();
    h.extend_from_slice(&id.to_ne_bytes());
    h.extend_from_slice(&flags.to_ne_bytes());
    h.extend_from_slice(&count.to_ne_bytes());
    h.extend_from_slice(&overflow.to_ne_bytes());
    h
}

/// A leaf page (id 0 for an inline one), its elements then keys and values, as bbolt lays
/// them out.
fn leaf(id: u64, entries: &[(&[u8], Put)]) -> Vec<u8> {
    let mut page = header(id, LEAF_PAGE, entries.len() as u16, 0);
    let mut data = Vec::new();
    for (i, (key, put)) in entries.iter().enumerate() {
        let (flag, value) = match put {
            Put::Data(v) => (0u32, v.to_vec()),
            Put::Paged(root) => (BUCKET_LEAF, [root.to_ne_bytes(), [0; 8]].concat()),
            Put::Inline(p) => (BUCKET_LEAF, [[0u8; 16].as_slice(), p].concat()),
        };
        let elem_at = PAGE_HEADER + i * ELEMENT;
        let data_at = PAGE_HEADER + entries.len() * ELEMENT + data.len();
        page.extend_from_slice(&flag.to_ne_bytes());
        page.extend_from_slice(&((data_at - elem_at) as u32).to_ne_bytes());
        page.extend_from_slice(&(key.len() as u32).to_ne_bytes());
        page.extend_from_slice(&(value.len() as u32).to_ne_bytes());
        data.extend_from_slice(key);
        data.extend_from_slice(&value);
    }
    page.extend_from_slice(&data);
    page
}

fn branch(id: u64, children: &[(&[u8], u64)]) -> Vec<u8> {
    let mut page = header(id, BRANCH_PAGE, children.len() as u16, 0);
    let mut data = Vec::new();
    for (i, (key, child)) in children.iter().enumerate() {
        let elem_at = PAGE_HEADER + i * ELEMENT;
        let data_at = PAGE_HEADER + children.len() * ELEMENT + data.len();
        page.extend_from_slice(&((data_at - elem_at) as u32).to_ne_bytes());
        page.extend_from_slice(&(key.len() as u32).to_ne_bytes());
        page.extend_from_slice(&child.to_ne_bytes());
        data.extend_from_slice(key);
    }
    page.extend_from_slice(&data);
    page
}

fn meta_page(id: u64, root: u64, txid: u64) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&MAGIC.to_ne_bytes());
    m.extend_from_slice(&VERSION.to_ne_bytes());
    m.extend_from_slice(&(PAGE as u32).to_ne_bytes());
    m.extend_from_slice(&0u32.to_ne_bytes());
    m.extend_from_slice(&root.to_ne_bytes());
    m.extend_from_slice(&0u64.to_ne_bytes());
    m.extend_from_slice(&2u64.to_ne_bytes()); // freelist
    m.extend_from_slice(&99u64.to_ne_bytes()); // high water mark
    m.extend_from_slice(&txid.to_ne_bytes());
    let sum = fnv1a64(&m);
    m.extend_from_slice(&sum.to_ne_bytes());
    [header(id, META_PAGE, 0, 0), m].concat()
}

/// A file of these pages, each padded to its page (with its overflow pages).
fn file(pages: &[Vec<u8>]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    for p in pages {
        let len = p.len().div_ceil(PAGE) * PAGE;
        let mut padded = p.clone();
        padded.resize(len, 0);
        f.write_all(&padded).unwrap();
    }
    f
}

fn with_overflow(mut page: Vec<u8>, overflow: u32) -> Vec<u8> {
    page[12..16].copy_from_slice(&overflow.to_ne_bytes());
    page
}

/// Pages 0-1 meta (txid 7 names root 3, txid 6 root 2), 2 an old root, 3 the root leaf: "v1"
/// a bucket at page 4 (a branch over leaves 5 and 6), "z" a value. Leaf 5 holds bucket "k8s.io"
/// inline, leaf 6 a value that overflows into a second page.
fn sample() -> File {
    let big = vec![b'x'; 700];
    let inline = leaf(
        0,
        &[(b"containers", Put::Data(b"none")), (b"x", Put::Data(b"1"))],
    );
    file(&[
        meta_page(0, 3, 7),
        meta_page(1, 2, 6),
        leaf(2, &[(b"old", Put::Data(b"gone"))]),
        leaf(3, &[(b"v1", Put::Paged(4)), (b"z", Put::Data(b"last"))]),
        branch(4, &[(b"a", 5), (b"m", 6)]),
        leaf(5, &[(b"k8s.io", Put::Inline(inline))]),
        with_overflow(leaf(6, &[(b"moby", Put::Data(&big))]), 1),
    ])
}

#[test]
fn nested_paged_and_inline_buckets_are_read_through_branch_pages() {
    let f = sample();
    let snap = Snapshot::open(&f).unwrap();
    let v1 = snap.bucket(&[b"v1"]).unwrap().unwrap();
    assert_eq!(v1, Bucket::Paged(4));
    let keys: Vec<Vec<u8>> = snap
        .entries(&v1)
        .unwrap()
        .into_iter()
        .map(|e| e.0)
        .collect();
    assert_eq!(keys, [b"k8s.io".to_vec(), b"moby".to_vec()]);
    let ns = snap.bucket(&[b"v1", b"k8s.io"]).unwrap().unwrap();
    assert!(matches!(ns, Bucket::Inline(_)));
    assert_eq!(
        snap.entries(&ns).unwrap(),
        [
            (b"containers".to_vec(), Value::Data(b"none".to_vec())),
            (b"x".to_vec(), Value::Data(b"1".to_vec()))
        ]
    );
    // A value that spans its page and the overflow page after it.
    let moby = snap.entries(&v1).unwrap().remove(1).1;
    assert_eq!(moby, Value::Data(vec![b'x'; 700]));
    // A value is not a bucket; a missing name is none.
    assert_eq!(snap.bucket(&[b"z"]).unwrap(), None);
    assert_eq!(snap.bucket(&[b"v1", b"docker"]).unwrap(), None);
}

#[test]
fn the_newest_whole_meta_page_is_read() {
    let f = sample();
    // txid 7 (page 0) is newer than 6 (page 1): root 3, where "v1" is.
    assert!(
        Snapshot::open(&f)
            .unwrap()
            .bucket(&[b"v1"])
            .unwrap()
            .is_some()
    );
    // The newer meta page damaged (as if torn while written): the older one counts.
    let mut bad = meta_page(0, 3, 7);
    bad[PAGE_HEADER + 20] ^= 1;
    f.write_all_at(&bad, 0).unwrap();
    let snap = Snapshot::open(&f).unwrap();
    assert_eq!(snap.txid, 6);
    assert_eq!(
        snap.entries(&snap.root).unwrap(),
        [(b"old".to_vec(), Value::Data(b"gone".to_vec()))]
    );
}

#[test]
fn a_commit_after_the_read_makes_it_not_current() {
    let f = sample();
    let snap = Snapshot::open(&f).unwrap();
    assert!(snap.still_current().unwrap());
    // Transaction 8 commits: its meta page goes where 6's was.
    f.write_all_at(&meta_page(1, 2, 8), PAGE as u64).unwrap();
    assert!(!snap.still_current().unwrap());
    assert_eq!(Snapshot::open(&f).unwrap().txid, 8);
}

#[test]
fn damaged_files_are_errors_not_panics() {
    let not_bolt = file(&[vec![0u8; PAGE], vec![0u8; PAGE]]);
    let err = Snapshot::open(&not_bolt).err().unwrap();
    assert!(err.contains("no valid meta page"), "{err}");

    // A branch that points at itself.
    let looped = file(&[
        meta_page(0, 2, 7),
        meta_page(1, 2, 6),
        branch(2, &[(b"a", 2)]),
    ]);
    let snap = Snapshot::open(&looped).unwrap();
    assert!(snap.entries(&snap.root).unwrap_err().contains("deeper"));

    // A root past the end of the file; a page whose header names another.
    let short = file(&[meta_page(0, 9, 7), meta_page(1, 9, 6)]);
    let snap = Snapshot::open(&short).unwrap();
    assert!(snap.entries(&snap.root).is_err());
    let moved = file(&[meta_page(0, 2, 7), meta_page(1, 2, 6), leaf(5, &[])]);
    let snap = Snapshot::open(&moved).unwrap();
    assert!(
        snap.entries(&snap.root)
            .unwrap_err()
            .contains("another page")
    );

    // A leaf whose element claims more bytes than the page has.
    let mut long = leaf(2, &[(b"k", Put::Data(b"v"))]);
    long[PAGE_HEADER + 12..PAGE_HEADER + 16].copy_from_slice(&5000u32.to_ne_bytes());
    let lying = file(&[meta_page(0, 2, 7), meta_page(1, 2, 6), long]);
    let snap = Snapshot::open(&lying).unwrap();
    assert!(
        snap.entries(&snap.root)
            .unwrap_err()
            .contains("past the page")
    );
}

#[test]
fn fnv1a64_matches_the_reference_values() {
    // FNV-1a 64 test vectors (Fowler, Noll, Vo).
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}
