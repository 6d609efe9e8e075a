//! `guanxi analyze`: statistical models run offline over an exported file —
//! no database, no server.
//!
//! `guanxi analyze bgnbd --orders FILE.csv --until YYYY-MM-DD [--json]` fits
//! the BG/NBD repeat-purchase model ([`guanxi_domain::churn::bgnbd`]) to the
//! orders placed up to and including `--until`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Subcommand;
use guanxi_domain::Lang;
use guanxi_domain::churn::bgnbd::{self, CustomerHistory, Fit};
use guanxi_domain::customer::parse_date;
use guanxi_domain::money::Money;
use jiff::civil::Date;

#[derive(Debug, Subcommand)]
pub enum Analyze {
    /// Fits the BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005) to an
    /// orders file: how often customers buy and how quickly they drop out.
    ///
    /// Several orders of one customer on one day count as one purchase; time
    /// is in weeks from each customer's first order.
    Bgnbd {
        /// CSV with the header `customer,date,amount`; dates as YYYY-MM-DD.
        #[arg(long, value_name = "FILE.csv")]
        orders: PathBuf,
        /// The last day of the calibration period (inclusive): later orders
        /// are ignored.
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_until)]
        until: Date,
        /// Prints {"customers": N, "params": {"r": …, "alpha": …, "a": …,
        /// "b": …}, "log_likelihood": …} instead of a table.
        #[arg(long)]
        json: bool,
    },
}

fn parse_until(raw: &str) -> Result<Date, String> {
    parse_date(raw).map_err(|issue| issue.message(Lang::En))
}

pub fn run(command: Analyze) -> anyhow::Result<()> {
    match command {
        Analyze::Bgnbd { orders, until, json } => {
            let report = bgnbd_report(&orders, until)?;
            println!("{}", if json { report.json() } else { report.table() });
            Ok(())
        }
    }
}

/// The columns of the orders file.
const COLUMNS: [&str; 3] = ["customer", "date", "amount"];

/// The order dates of each customer.
#[derive(Debug, Default)]
struct Orders {
    rows: usize,
    dates: BTreeMap<String, Vec<Date>>,
}

fn read_orders(path: &Path) -> anyhow::Result<Orders> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    read_orders_from(file, &path.display().to_string())
}

/// Reads `customer,date,amount` rows (columns found by name, in any order;
/// other columns are ignored). The first bad row stops the reading with an
/// error that names the file, the row (1 is the first row after the header),
/// its line and the column.
fn read_orders_from(input: impl Read, name: &str) -> anyhow::Result<Orders> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(input);
    let header = reader.headers().with_context(|| format!("{name}: cannot read the header"))?.clone();
    let mut index = [0; 3];
    for (slot, column) in index.iter_mut().zip(COLUMNS) {
        *slot = match header.iter().position(|h| h.trim().eq_ignore_ascii_case(column)) {
            Some(i) => i,
            None => bail!(
                "{name}: the header must name the columns customer,date,amount; column `{column}` is missing (found `{}`)",
                header.iter().collect::<Vec<_>>().join(",")
            ),
        };
    }
    let mut orders = Orders::default();
    for (i, record) in reader.records().enumerate() {
        let row = i + 1;
        let record = record.map_err(|e| match e.kind() {
            csv::ErrorKind::UnequalLengths { pos, expected_len, len } => anyhow::anyhow!(
                "{name}: row {row}{}: expected {expected_len} fields like the header, found {len}",
                pos.as_ref().map(|p| format!(" (line {})", p.line())).unwrap_or_default()
            ),
            _ => anyhow::anyhow!("{name}: row {row}: {e}"),
        })?;
        let line = record.position().map(|p| format!(" (line {})", p.line())).unwrap_or_default();
        let cell = |column: usize| record.get(index[column]).unwrap_or("").trim();
        let bad = |column: usize, problem: String| {
            anyhow::anyhow!("{name}: row {row}{line}, column `{}`: {problem}", COLUMNS[column])
        };
        let customer = cell(0);
        if customer.is_empty() {
            return Err(bad(0, "is empty".into()));
        }
        let date = parse_date(cell(1)).map_err(|issue| bad(1, format!("`{}` {}", cell(1), issue.message(Lang::En))))?;
        Money::parse(cell(2)).map_err(|issue| bad(2, format!("`{}` {}", cell(2), issue.message(Lang::En))))?;
        orders.rows += 1;
        orders.dates.entry(customer.to_owned()).or_default().push(date);
    }
    Ok(orders)
}

#[derive(Debug)]
struct Report {
    file: String,
    until: Date,
    rows: usize,
    /// Customers in the fit.
    customers: usize,
    /// Customers whose first order is after `until`.
    later: usize,
    repeat_buyers: usize,
    fit: Fit,
}

fn bgnbd_report(path: &Path, until: Date) -> anyhow::Result<Report> {
    let orders = read_orders(path)?;
    let histories: Vec<CustomerHistory> =
        orders.dates.values().filter_map(|dates| CustomerHistory::from_purchase_dates(dates, until)).collect();
    let fit = bgnbd::fit(&histories)
        .with_context(|| format!("cannot fit the BG/NBD model to {} up to {until}", path.display()))?;
    Ok(Report {
        file: path.display().to_string(),
        until,
        rows: orders.rows,
        customers: histories.len(),
        later: orders.dates.len() - histories.len(),
        repeat_buyers: histories.iter().filter(|h| h.x > 0.0).count(),
        fit,
    })
}

impl Report {
    /// `{"customers": N, "params": {"r": …, "alpha": …, "a": …, "b": …}, "log_likelihood": …}`;
    /// the numbers are finite (the fit checks), printed to full precision.
    fn json(&self) -> String {
        let p = &self.fit.params;
        format!(
            r#"{{"customers": {}, "params": {{"r": {}, "alpha": {}, "a": {}, "b": {}}}, "log_likelihood": {}}}"#,
            self.customers, p.r, p.alpha, p.a, p.b, self.fit.log_likelihood
        )
    }

    fn table(&self) -> String {
        let p = &self.fit.params;
        let mut out = String::from("BG/NBD repeat-purchase model (Fader, Hardie & Lee 2005)\n\n");
        out += &format!("orders file       {} ({} rows)\n", self.file, self.rows);
        out += &format!("calibration ends  {}\n", self.until);
        out += &format!("customers         {}", self.customers);
        if self.later > 0 {
            out += &format!(" ({} more first ordered after that day and are left out)", self.later);
        }
        out += &format!("\nrepeat buyers     {}\n\n", self.repeat_buyers);
        out += "parameter  estimate\n";
        out += &format!("r          {:>10.4}   purchase rate λ ~ Gamma(r, alpha)\n", p.r);
        out += &format!("alpha      {:>10.4}   mean rate r/alpha = {:.4} purchases a week\n", p.alpha, p.r / p.alpha);
        out += &format!("a          {:>10.4}   dropout chance p ~ Beta(a, b)\n", p.a);
        out += &format!(
            "b          {:>10.4}   mean a/(a+b) = {:.4} after each repeat purchase\n\n",
            p.b,
            p.a / (p.a + p.b)
        );
        out += &format!("log-likelihood    {:.4} ({} iterations)", self.fit.log_likelihood, self.fit.iterations);
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn read(text: &str) -> anyhow::Result<Orders> {
        read_orders_from(text.as_bytes(), "orders.csv")
    }

    #[test]
    fn reads_orders_by_column_name() {
        let orders = read("amount,customer,date\n12.50,c1,2024-01-05\n3,c2,2024-02-01\n1,c1,2024-03-01\n").unwrap();
        assert_eq!(orders.rows, 3);
        assert_eq!(orders.dates["c1"].len(), 2);
    }

    #[test]
    fn bad_rows_are_named() {
        let message = |text: &str| format!("{:#}", read(text).unwrap_err());
        let m = message("customer,date,amount\nc1,2024-01-05,1\nc2,2024-13-01,1\n");
        assert!(m.contains("row 2 (line 3), column `date`") && m.contains("2024-13-01"), "{m}");
        let m = message("customer,date,amount\nc1,2024-01-05,abc\n");
        assert!(m.contains("row 1 (line 2), column `amount`"), "{m}");
        let m = message("customer,date,amount\n ,2024-01-05,1\n");
        assert!(m.contains("row 1 (line 2), column `customer`: is empty"), "{m}");
        let m = message("customer,date,amount\nc1,2024-01-05\n");
        assert!(m.contains("row 1 (line 2): expected 3 fields"), "{m}");
        let m = message("customer,day,amount\nc1,2024-01-05,1\n");
        assert!(m.contains("column `date` is missing"), "{m}");
    }
}
