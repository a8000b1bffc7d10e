//! The syntax of label keys and values (apimachinery `pkg/util/validation/validation.go`),
//! which a selector's keys and values must follow.

// validation.go `qualifiedNameMaxLength` and `LabelValueMaxLength`: 63.
const NAME_MAX: usize = 63;
// validation.go `DNS1123SubdomainMaxLength`: 253.
const SUBDOMAIN_MAX: usize = 253;

// validation.go `qualifiedNameFmt` / `labelValueFmt`:
// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

// validation.go `IsDNS1123Subdomain`: lower-case RFC 1123 labels separated by dots
// (`[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`), at most 253 bytes.
fn check_dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > SUBDOMAIN_MAX {
        return Err(format!(
            "the prefix must be no more than {SUBDOMAIN_MAX} characters"
        ));
    }
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        match (b.first(), b.last()) {
            (Some(f), Some(e)) => {
                (f.is_ascii_lowercase() || f.is_ascii_digit())
                    && (e.is_ascii_lowercase() || e.is_ascii_digit())
                    && b.iter()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            }
            _ => false,
        }
    };
    if s.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(format!(
            "the prefix `{s}` must be a lower-case DNS subdomain (like `example.com`)"
        ))
    }
}

/// validation.go `IsQualifiedName`: `name` or `prefix/name`, the prefix a DNS subdomain.
pub fn check_qualified_name(s: &str) -> Result<(), String> {
    let name = match s.split('/').collect::<Vec<_>>().as_slice() {
        // IsQualifiedName: one part is the name alone.
        [name] => *name,
        // IsQualifiedName: with a prefix, the prefix is non-empty and a DNS subdomain.
        [prefix, name] => {
            if prefix.is_empty() {
                return Err("the prefix before `/` must not be empty".into());
            }
            check_dns1123_subdomain(prefix)?;
            *name
        }
        // IsQualifiedName: more than one `/` is not a qualified name.
        _ => return Err("a key has at most one `/` (like `example.com/name`)".into()),
    };
    // IsQualifiedName: the name part is non-empty...
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    // ...at most 63 characters...
    if name.len() > NAME_MAX {
        return Err(format!(
            "the name must be no more than {NAME_MAX} characters"
        ));
    }
    // ...and matches qualifiedNameFmt.
    if !is_name_part(name) {
        return Err(
            "the name must be letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}

/// validation.go `IsValidLabelValue`: empty, or at most 63 characters of `labelValueFmt`.
pub fn check_label_value(s: &str) -> Result<(), String> {
    // IsValidLabelValue: LabelValueMaxLength.
    if s.len() > NAME_MAX {
        return Err(format!(
            "a value must be no more than {NAME_MAX} characters"
        ));
    }
    // IsValidLabelValue: labelValueFmt, which allows the empty value.
    if !s.is_empty() && !is_name_part(s) {
        return Err(
            "a value must be empty or letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit"
                .into(),
        );
    }
    Ok(())
}
