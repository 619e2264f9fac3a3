//! Canonical carrier ids: the host names carriers by these ids; a plugin
//! maps each to its platform's own name and refuses any other.

use crate::AdapterError;

/// Every carrier id the host knows.
pub const CANONICAL: &[&str] = &[
    "dhl",
    "dhl-express",
    "dpd",
    "gls",
    "ups",
    "fedex",
    "usps",
    "hermes",
    "post-at",
    "post-ch",
    "royal-mail",
    "tnt",
    "colissimo",
    "bpost",
    "postnl",
    "other",
];

/// Looks `carrier` up in a plugin's table of `(canonical id, platform name)`.
/// An unknown id is refused with the list the plugin knows, so an operator
/// sees at once which carrier to pick instead.
pub fn map<'a>(table: &'a [(&'a str, &'a str)], carrier: &str) -> Result<&'a str, AdapterError> {
    let wanted = carrier.trim().to_ascii_lowercase();
    table
        .iter()
        .find(|(id, _)| *id == wanted)
        .map(|(_, name)| *name)
        .ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|(id, _)| *id).collect();
            AdapterError::Rejected(format!(
                "carrier \"{carrier}\" is not known to this plugin (known: {})",
                known.join(", ")
            ))
        })
}

/// The canonical ids of a plugin's table, for `platform-info.carriers`.
pub fn ids(table: &[(&str, &str)]) -> Vec<String> {
    table.iter().map(|(id, _)| (*id).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[(&str, &str)] = &[("dhl", "DHL"), ("ups", "UPS")];

    #[test]
    fn known_carrier_maps_case_insensitively() {
        assert_eq!(map(TABLE, "UPS").unwrap(), "UPS");
    }

    #[test]
    fn unknown_carrier_is_refused_with_the_known_list() {
        match map(TABLE, "pigeon") {
            Err(AdapterError::Rejected(msg)) => {
                assert_eq!(
                    msg,
                    "carrier \"pigeon\" is not known to this plugin (known: dhl, ups)"
                )
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }
}
