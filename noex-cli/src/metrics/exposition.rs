//! The text Prometheus reads: metric families written as OpenMetrics 1.0 or as the
//! Prometheus text format 0.0.4, with label values and help texts escaped.
//!
//! Written here rather than through the `prometheus-client` crate: its encoder does not
//! escape label values (prometheus/client_rust#151), and ours are process names from
//! the application. The two formats differ only in how a counter's metadata is named
//! (`foo` in OpenMetrics, `foo_total` in 0.0.4), in `# UNIT` lines and in `# EOF`.

use std::fmt::Write as _;

/// Which text format to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// OpenMetrics 1.0 text, ending with `# EOF` (what Prometheus asks for first)
    #[value(name = "openmetrics")]
    OpenMetrics,
    /// Prometheus text exposition 0.0.4 (promtool, node_exporter's textfile collector)
    Prometheus,
}

impl Format {
    /// The HTTP `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
        }
    }

    /// The format an HTTP `Accept` header asks for: OpenMetrics when it names it, as
    /// Prometheus does, else the 0.0.4 text every scraper reads.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// A counter only goes up (a restart of what it counts resets it); a gauge goes both ways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// A sample's value: counts stay exact integers, durations are seconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    Int(u64),
    Float(f64),
}

/// One series of a family: its label values, in the family's label order.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Vec<(&'static str, String)>,
    pub value: Value,
}

/// A metric family: the name without `_total` (a counter's samples get it), its help,
/// its type, its unit (the name ends with it) and its series.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub unit: Option<&'static str>,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            unit: None,
            samples: Vec::new(),
        }
    }

    /// Give the family its unit; its name must end with `_<unit>`.
    pub fn unit(mut self, unit: &'static str) -> Family {
        debug_assert!(self.name.ends_with(&format!("_{unit}")), "{}", self.name);
        self.unit = Some(unit);
        self
    }

    pub fn push(&mut self, labels: Vec<(&'static str, String)>, value: Value) {
        self.samples.push(Sample { labels, value });
    }

    /// The name its samples carry.
    pub fn sample_name(&self) -> String {
        match self.kind {
            Kind::Counter => format!("{}_total", self.name),
            Kind::Gauge => self.name.to_string(),
        }
    }
}

/// The families as text in `format`. Each has its HELP and TYPE lines, even with no
/// series, so what a scraper knows does not depend on what runs now.
pub fn encode(families: &[Family], format: Format) -> String {
    let mut out = String::new();
    for family in families {
        let sample_name = family.sample_name();
        let meta_name = match format {
            Format::OpenMetrics => family.name,
            Format::Prometheus => &sample_name,
        };
        let kind = match family.kind {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        };
        let _ = writeln!(
            out,
            "# HELP {meta_name} {}",
            escape_help(family.help, format)
        );
        let _ = writeln!(out, "# TYPE {meta_name} {kind}");
        if let (Format::OpenMetrics, Some(unit)) = (format, family.unit) {
            let _ = writeln!(out, "# UNIT {meta_name} {unit}");
        }
        for sample in &family.samples {
            out.push_str(&sample_name);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label_value(value));
                }
                out.push('}');
            }
            let _ = match sample.value {
                Value::Int(value) => writeln!(out, " {value}"),
                Value::Float(value) => writeln!(out, " {}", float(value)),
            };
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

/// A label value between double quotes: backslash, double quote and line feed escaped,
/// as both formats require; everything else (any UTF-8) as it is.
pub fn escape_label_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A help text: backslash and line feed escaped (and, in OpenMetrics, double quotes).
fn escape_help(help: &str, format: Format) -> String {
    match format {
        Format::OpenMetrics => escape_label_value(help),
        Format::Prometheus => help.replace('\\', "\\\\").replace('\n', "\\n"),
    }
}

/// A float in a form both formats parse: Rust never writes an exponent, and writes
/// infinities the Go way.
fn float(value: f64) -> String {
    if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        assert_eq!(escape_label_value(r"C:\dir"), r"C:\\dir");
        assert_eq!(escape_label_value("say \"hi\""), r#"say \"hi\""#);
        assert_eq!(escape_label_value("two\nlines"), r"two\nlines");
        assert_eq!(
            escape_label_value("tab\tand ünïcode <0.3>"),
            "tab\tand ünïcode <0.3>"
        );
        assert_eq!(escape_label_value("\\\"\n"), "\\\\\\\"\\n");
    }

    fn family() -> Family {
        let mut family =
            Family::new("noex_x_busy_seconds", Kind::Counter, "A \\ help\ntext.").unit("seconds");
        family.push(vec![("name", "a\"b\\c\nd".into())], Value::Float(1.5));
        family.push(vec![], Value::Int(3));
        family
    }

    #[test]
    fn openmetrics_names_a_counter_family_without_total_and_ends_with_eof() {
        assert_eq!(
            encode(&[family()], Format::OpenMetrics),
            "# HELP noex_x_busy_seconds A \\\\ help\\ntext.\n\
             # TYPE noex_x_busy_seconds counter\n\
             # UNIT noex_x_busy_seconds seconds\n\
             noex_x_busy_seconds_total{name=\"a\\\"b\\\\c\\nd\"} 1.5\n\
             noex_x_busy_seconds_total 3\n\
             # EOF\n"
        );
    }

    #[test]
    fn prometheus_text_names_a_counter_by_its_samples_and_has_no_unit_or_eof() {
        assert_eq!(
            encode(&[family()], Format::Prometheus),
            "# HELP noex_x_busy_seconds_total A \\\\ help\\ntext.\n\
             # TYPE noex_x_busy_seconds_total counter\n\
             noex_x_busy_seconds_total{name=\"a\\\"b\\\\c\\nd\"} 1.5\n\
             noex_x_busy_seconds_total 3\n"
        );
    }

    #[test]
    fn accept_header_picks_openmetrics_only_when_named() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(None), Format::Prometheus);
    }

    #[test]
    fn floats_have_no_exponent() {
        assert_eq!(float(1e21), "1000000000000000000000");
        assert_eq!(float(0.000_25), "0.00025");
        assert_eq!(float(f64::INFINITY), "+Inf");
    }
}
