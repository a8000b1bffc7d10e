//! Reading one file out of a node container with the archive API (`GET /containers/X/archive`,
//! what `docker cp` uses). Docker answers with a tar stream of which a file needs only the
//! first entry: regular files, symlinks (followed, like `docker cp NODE:/link -` would not,
//! because a caller asking for a path wants its content) and directories (refused).
//!
//! The archive is read with the `tar` crate (0.4, maintained by the composefs project) rather
//! than our own ustar reader: it checks header checksums, applies PAX `size`/`path`/`linkpath`
//! records and GNU long names *and* long link targets to the entry they describe, and reads
//! base-256 sizes; our reader skipped PAX records, so a symlink whose target is longer than
//! 100 bytes was followed to a truncated path. The size cap stays ours, and now holds during
//! the download too: it used to be checked only once the whole archive was in memory.

use std::io::Read;

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures::{Stream, TryStreamExt};

use super::DockerNodes;
use crate::backends::BackendError;

/// Symlinks followed before giving up.
const MAX_LINKS: usize = 8;
/// Files larger than this are not read into memory.
const MAX_FILE: u64 = 64 << 20;
/// Room for the headers before a file's bytes (PAX records, long names): the download stops
/// once the archive passes `MAX_FILE` and this.
const HEADROOM: u64 = 1 << 20;

/// One tar entry: what the reader needs of it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    File(Vec<u8>),
    Symlink(String),
    Directory,
    Other(u8),
}

pub(crate) async fn read_file(
    nodes: &DockerNodes,
    node: &str,
    path: &str,
) -> Result<Vec<u8>, BackendError> {
    let mut current = path.to_string();
    for _ in 0..=MAX_LINKS {
        let opts = DownloadFromContainerOptionsBuilder::new()
            .path(&current)
            .build();
        let stream = nodes.docker().download_from_container(node, Some(opts));
        let archive = collect_capped(stream, MAX_FILE + HEADROOM)
            .await
            .map_err(|e| {
                if super::error::status_of(&e) == Some(404) {
                    BackendError::not_found(format!("no file {current} in node `{node}`"))
                } else {
                    nodes.on_node(node, &format!("reading {current}"), e)
                }
            })?
            .ok_or_else(|| {
                BackendError::failed(format!(
                    "reading {current} from `{node}`: the file is too large (over {MAX_FILE} bytes)"
                ))
            })?;
        match first_entry(&archive)
            .map_err(|e| BackendError::failed(format!("reading {current} from `{node}`: {e}")))?
        {
            Entry::File(data) => return Ok(data),
            Entry::Symlink(target) => current = resolve(&current, &target),
            Entry::Directory => {
                return Err(BackendError::failed(format!(
                    "{current} in node `{node}` is a directory, not a file"
                )));
            }
            Entry::Other(t) => {
                return Err(BackendError::failed(format!(
                    "{current} in node `{node}` is not a regular file (tar type {:?})",
                    t as char
                )));
            }
        }
    }
    Err(BackendError::failed(format!(
        "{path} in node `{node}`: more than {MAX_LINKS} symbolic links"
    )))
}

/// The bytes of a download, or `None` as soon as they pass `cap` (the rest is not read), so
/// a huge file is refused without being held in memory.
async fn collect_capped<S, B, E>(stream: S, cap: u64) -> Result<Option<Vec<u8>>, E>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    let mut stream = std::pin::pin!(stream);
    let mut all = Vec::new();
    while let Some(chunk) = stream.try_next().await? {
        all.extend_from_slice(chunk.as_ref());
        if all.len() as u64 > cap {
            return Ok(None);
        }
    }
    Ok(Some(all))
}

/// A symlink target, relative to the link's directory unless absolute.
fn resolve(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    format!("{dir}/{target}")
}

/// The first real entry of a tar archive. PAX extended headers and GNU long names/links are
/// folded into the entry they describe by the `tar` crate (so a long symlink target is read
/// from its PAX `linkpath` or GNU `K` record); PAX global headers are skipped.
pub(crate) fn first_entry(archive: &[u8]) -> Result<Entry, String> {
    let mut tar = tar::Archive::new(archive);
    let entries = tar.entries().map_err(|e| e.to_string())?;
    for entry in entries {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                if size > MAX_FILE {
                    return Err(format!("the file is too large ({size} bytes)"));
                }
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| e.to_string())?;
                // The crate reads what is there: a short body is a truncated archive.
                if data.len() as u64 != size {
                    return Err("the archive is truncated".into());
                }
                return Ok(Entry::File(data));
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .ok_or("a symbolic link without a target")?;
                return Ok(Entry::Symlink(
                    String::from_utf8_lossy(&target).into_owned(),
                ));
            }
            tar::EntryType::Directory => return Ok(Entry::Directory),
            // A global PAX header describes every entry; the file is still to come.
            tar::EntryType::XGlobalHeader => {}
            other => return Ok(Entry::Other(other.as_byte())),
        }
    }
    Err("the archive is empty".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    /// A raw ustar header as Go's archive/tar writes it, checksum included.
    fn header(name: &str, size: u64, typeflag: u8, link: &str) -> Vec<u8> {
        let mut h = tar::Header::new_ustar();
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::new(typeflag));
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        h.set_mode(0o644);
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    fn entry(name: &str, data: &[u8], typeflag: u8) -> Vec<u8> {
        let mut v = header(name, data.len() as u64, typeflag, "");
        v.extend_from_slice(data);
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }

    fn pax(records: &[(&str, &str)]) -> Vec<u8> {
        let body: String = records
            .iter()
            .map(|(k, v)| {
                // A record is "LEN key=value\n", LEN counting itself.
                let rest = format!(" {k}={v}\n");
                let mut len = rest.len() + 1;
                while (len.to_string().len() + rest.len()) != len {
                    len += 1;
                }
                format!("{len}{rest}")
            })
            .collect();
        entry("PaxHeaders/x", body.as_bytes(), b'x')
    }

    #[test]
    fn reads_a_file_after_a_pax_header() {
        let mut a = pax(&[("path", "some/long/name/here")]);
        a.extend(entry("admin.conf", b"apiVersion: v1\n", b'0'));
        a.extend(vec![0u8; 1024]);
        assert_eq!(
            first_entry(&a),
            Ok(Entry::File(b"apiVersion: v1\n".to_vec()))
        );
    }

    #[test]
    fn a_global_pax_header_is_skipped() {
        let mut a = entry("pax_global_header", b"", b'g');
        a.extend(entry("f", b"x", 0));
        assert_eq!(first_entry(&a), Ok(Entry::File(b"x".to_vec())));
    }

    #[test]
    fn symlinks_and_directories() {
        let a = header("link", 0, b'2', "../target");
        assert_eq!(first_entry(&a), Ok(Entry::Symlink("../target".into())));
        assert_eq!(resolve("/etc/a/link", "../target"), "/etc/a/../target");
        assert_eq!(resolve("/etc/link", "/abs"), "/abs");
        let d = header("dir", 0, b'5', "");
        assert_eq!(first_entry(&d), Ok(Entry::Directory));
        let fifo = header("p", 0, b'6', "");
        assert_eq!(first_entry(&fifo), Ok(Entry::Other(b'6')));
    }

    #[test]
    fn long_symlink_targets_come_from_pax_or_gnu_records() {
        // Longer than the header's 100-byte link field.
        let target = format!("/var/lib/{}/kubelet.conf", "d".repeat(150));
        let mut a = pax(&[("linkpath", &target)]);
        a.extend(header("link", 0, b'2', "truncated"));
        assert_eq!(first_entry(&a), Ok(Entry::Symlink(target.clone())));

        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "link", &target).unwrap();
        let gnu = b.into_inner().unwrap();
        assert_eq!(first_entry(&gnu), Ok(Entry::Symlink(target)));
    }

    #[test]
    fn gnu_long_names_describe_the_next_entry() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        let long = format!("etc/{}/admin.conf", "n".repeat(120));
        b.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        let a = b.into_inner().unwrap();
        assert_eq!(a[156], b'L', "the builder wrote a GNU long name first");
        assert_eq!(first_entry(&a), Ok(Entry::File(b"abc".to_vec())));
    }

    #[test]
    fn files_over_the_cap_are_refused_unread() {
        let a = header("big", MAX_FILE + 1, b'0', "");
        let e = first_entry(&a).unwrap_err();
        assert!(e.contains("too large"), "{e}");
        // The size a PAX record gives wins over the header's.
        let mut p = pax(&[("size", &(MAX_FILE + 1).to_string())]);
        p.extend(header("big", 1, b'0', ""));
        assert!(first_entry(&p).unwrap_err().contains("too large"));
    }

    #[test]
    fn truncated_corrupt_and_empty_archives_are_errors() {
        assert!(first_entry(&[]).unwrap_err().contains("empty"));
        assert!(first_entry(&[0u8; 1024]).unwrap_err().contains("empty"));
        let mut a = header("f", 100, b'0', "");
        a.extend_from_slice(b"short");
        assert!(first_entry(&a).unwrap_err().contains("truncated"));
        let mut bad = entry("f", b"x", b'0');
        bad[0] = b'g';
        assert!(first_entry(&bad).unwrap_err().contains("checksum"));
    }

    #[tokio::test]
    async fn downloads_stop_at_the_cap() {
        let chunks = |n: usize| {
            futures::stream::iter(
                (0..n).map(|i| Ok::<_, std::io::Error>(vec![u8::try_from(i).unwrap(); 4])),
            )
        };
        assert_eq!(
            collect_capped(chunks(3), 12).await.unwrap(),
            Some(vec![0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
        );
        // Past the cap the stream is dropped unread: a fourth chunk is never asked for.
        let polled = std::cell::Cell::new(0);
        let counted = chunks(100).inspect(|_| polled.set(polled.get() + 1));
        assert_eq!(collect_capped(counted, 12).await.unwrap(), None);
        assert_eq!(polled.get(), 4);
        let failing = futures::stream::iter([Ok(vec![1]), Err(std::io::Error::other("gone"))]);
        assert!(collect_capped(failing, 12).await.is_err());
    }

    #[test]
    fn base256_sizes() {
        let mut h = header("f", 5, b'0', "");
        // GNU base-256: the high bit set, the number big-endian in the rest of the field.
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5]);
        let mut t = tar::Header::from_byte_slice(&h).clone();
        t.set_cksum();
        let mut a = t.as_bytes().to_vec();
        a.extend_from_slice(b"hello");
        a.resize(1024, 0);
        assert_eq!(first_entry(&a), Ok(Entry::File(b"hello".to_vec())));
    }
}
