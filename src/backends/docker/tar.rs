//! Reading one file out of a node container with the archive API (`GET /containers/X/archive`,
//! what `docker cp` uses). Docker answers with a tar stream; a file needs only the first entry,
//! so a small ustar reader is enough and saves a dependency. It understands the entries Docker
//! writes: regular files, symlinks (followed, like `docker cp NODE:/link -` would not, because
//! a caller asking for a path wants its content), PAX headers and GNU long names.

use bollard::query_parameters::DownloadFromContainerOptionsBuilder;
use futures::TryStreamExt;

use super::DockerNodes;
use crate::backends::BackendError;

/// Symlinks followed before giving up.
const MAX_LINKS: usize = 8;
/// Files larger than this are not read into memory.
const MAX_FILE: u64 = 64 << 20;

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
        let archive: Vec<u8> = nodes
            .docker()
            .download_from_container(node, Some(opts))
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .map_err(|e| {
                if super::error::status_of(&e) == Some(404) {
                    BackendError::not_found(format!("no file {current} in node `{node}`"))
                } else {
                    nodes.on_node(node, &format!("reading {current}"), e)
                }
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

/// A symlink target, relative to the link's directory unless absolute.
fn resolve(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return target.to_string();
    }
    let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    format!("{dir}/{target}")
}

/// The first real entry of a tar archive (skipping PAX and GNU long-name headers).
pub(crate) fn first_entry(archive: &[u8]) -> Result<Entry, String> {
    let mut at = 0;
    loop {
        let header = archive
            .get(at..at + 512)
            .ok_or("the archive ended before its first file")?;
        if header.iter().all(|b| *b == 0) {
            return Err("the archive is empty".into());
        }
        let size = parse_size(&header[124..136])?;
        if size > MAX_FILE {
            return Err(format!("the file is too large ({size} bytes)"));
        }
        let size = usize::try_from(size).map_err(|_| "size does not fit in memory")?;
        let data_start = at + 512;
        let data = archive
            .get(data_start..data_start + size)
            .ok_or("the archive is truncated")?;
        let typeflag = header[156];
        match typeflag {
            b'0' | 0 | b'7' => return Ok(Entry::File(data.to_vec())),
            b'2' => return Ok(Entry::Symlink(link_name(header))),
            b'5' => return Ok(Entry::Directory),
            // PAX extended headers and GNU long names describe the next entry.
            b'x' | b'g' | b'L' | b'K' => {}
            other => return Ok(Entry::Other(other)),
        }
        at = data_start + size.div_ceil(512) * 512;
    }
}

fn link_name(header: &[u8]) -> String {
    let field = &header[157..257];
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Octal (NUL/space terminated) or GNU base-256 (high bit set) size field.
fn parse_size(field: &[u8]) -> Result<u64, String> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            n = n
                .checked_mul(256)
                .and_then(|n| n.checked_add(u64::from(*b)))
                .ok_or("size overflows")?;
        }
        return Ok(n);
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| format!("bad size field {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: usize, typeflag: u8, link: &str) -> Vec<u8> {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let s = format!("{size:011o}\0");
        h[124..136].copy_from_slice(s.as_bytes());
        h[156] = typeflag;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h
    }

    fn entry(name: &str, data: &[u8], typeflag: u8) -> Vec<u8> {
        let mut v = header(name, data.len(), typeflag, "");
        v.extend_from_slice(data);
        v.resize(v.len().div_ceil(512) * 512, 0);
        v
    }

    #[test]
    fn reads_a_file_after_a_pax_header() {
        let mut a = entry("PaxHeaders/x", b"30 path=some/long/name/here\n", b'x');
        a.extend(entry("admin.conf", b"apiVersion: v1\n", b'0'));
        a.extend(vec![0u8; 1024]);
        assert_eq!(
            first_entry(&a),
            Ok(Entry::File(b"apiVersion: v1\n".to_vec()))
        );
    }

    #[test]
    fn symlinks_and_directories() {
        let a = header("link", 0, b'2', "../target");
        assert_eq!(first_entry(&a), Ok(Entry::Symlink("../target".into())));
        assert_eq!(resolve("/etc/a/link", "../target"), "/etc/a/../target");
        assert_eq!(resolve("/etc/link", "/abs"), "/abs");
        let d = header("dir", 0, b'5', "");
        assert_eq!(first_entry(&d), Ok(Entry::Directory));
    }

    #[test]
    fn truncated_and_empty_archives_are_errors() {
        assert!(first_entry(&[]).is_err());
        assert!(first_entry(&[0u8; 1024]).is_err());
        let mut a = header("f", 100, b'0', "");
        a.extend_from_slice(b"short");
        assert!(first_entry(&a).is_err());
    }

    #[test]
    fn base256_sizes() {
        let mut f = [0u8; 12];
        f[0] = 0x80;
        f[11] = 5;
        assert_eq!(parse_size(&f), Ok(5));
    }
}
