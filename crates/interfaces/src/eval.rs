//! `tapio eval`: score the analysis on labelled incidents (`<case>/recording.jsonl[.gz|.zst]`
//! with `<case>/truth.json` naming the faulty `service`), beside the N-Sigma baseline
//! computed in the same run on the same data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use tapio_collectors::recording::{open_input, ReaderOptions};
use tapio_domain::Insight;
use tapio_intelligence::baseline::nsigma_ranking;

use crate::pipeline;

/// The label of one case; other fields of truth.json are ignored.
#[derive(Debug, Deserialize)]
struct Truth {
    service: String,
    #[serde(default)]
    fault_type: Option<String>,
}

/// One case's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub case: String,
    pub fault_type: Option<String>,
    pub truth: String,
    /// 1-based rank of the true service in Tapio's ranking (`None`: not ranked).
    pub rank: Option<usize>,
    pub baseline_rank: Option<usize>,
    /// Tapio's ranking, best first (at most 5).
    pub ranking: Vec<String>,
    pub confidence: Option<f64>,
    pub elapsed_ms: f64,
    pub rejected_lines: u64,
}

/// AC@1, AC@3 and Avg@5 over a set of cases.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Scores {
    pub cases: usize,
    pub ac1: f64,
    pub ac3: f64,
    pub avg5: f64,
}

impl Scores {
    fn of(ranks: &[Option<usize>]) -> Self {
        let n = ranks.len().max(1) as f64;
        let ac = |k: usize| ranks.iter().filter(|r| r.is_some_and(|r| r <= k)).count() as f64 / n;
        Self {
            cases: ranks.len(),
            ac1: ac(1),
            ac3: ac(3),
            avg5: (1..=5).map(ac).sum::<f64>() / 5.0,
        }
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub tapio: Scores,
    pub baseline: Scores,
    /// Per fault type: (Tapio, baseline).
    pub by_fault_type: BTreeMap<String, (Scores, Scores)>,
    pub cases: Vec<CaseResult>,
}

/// The service an insight blames: `root_cause.service`, else the workload's name, else
/// the entity name without a pod's generated suffix.
pub fn blamed_service(insight: &Insight) -> String {
    let rc = &insight.root_cause;
    if let Some(s) = &rc.service {
        return s.clone();
    }
    if let Some(w) = &rc.workload {
        return w.rsplit('/').next().unwrap_or(w).to_owned();
    }
    let name = &rc.entity.name;
    if rc.entity.kind == "Pod" {
        let parts: Vec<&str> = name.split('-').collect();
        if parts.len() >= 3 {
            return parts[..parts.len() - 2].join("-");
        }
    }
    name.clone()
}

fn ranking(insights: &[Insight]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for i in insights {
        let s = blamed_service(i);
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

fn recording_in(dir: &Path) -> Option<PathBuf> {
    [
        "recording.jsonl",
        "recording.jsonl.gz",
        "recording.jsonl.zst",
    ]
    .iter()
    .map(|n| dir.join(n))
    .find(|p| p.is_file())
}

/// Cases under `dir`: sub-directories with a truth.json and a recording, by name.
pub fn find_cases(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("truth.json").is_file() && recording_in(p).is_some())
        .collect();
    cases.sort();
    if cases.is_empty() {
        bail!(
            "no cases in {} (expected <case>/recording.jsonl[.gz] and <case>/truth.json)",
            dir.display()
        );
    }
    Ok(cases)
}

/// Evaluates one case.
pub fn evaluate_case(dir: &Path) -> Result<CaseResult> {
    let truth_path = dir.join("truth.json");
    let truth: Truth = serde_json::from_slice(&std::fs::read(&truth_path)?).with_context(|| {
        format!(
            "{} is not a truth file with a \"service\"",
            truth_path.display()
        )
    })?;
    let recording = recording_in(dir).context("no recording")?;
    let started = Instant::now();
    let input =
        open_input(&recording).with_context(|| format!("cannot open {}", recording.display()))?;
    let analysed = pipeline::analyze(input, ReaderOptions::default(), 64, Box::new(|_| {}));
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let tapio = ranking(&analysed.report.insights);
    let baseline: Vec<String> = nsigma_ranking(analysed.engine.series())
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    let rank_in = |r: &[String]| r.iter().position(|s| *s == truth.service).map(|p| p + 1);
    Ok(CaseResult {
        case: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        fault_type: truth.fault_type,
        rank: rank_in(&tapio),
        baseline_rank: rank_in(&baseline),
        truth: truth.service,
        confidence: analysed.report.insights.first().map(|i| i.confidence),
        ranking: tapio.into_iter().take(5).collect(),
        elapsed_ms,
        rejected_lines: analysed.report.stats.rejected,
    })
}

/// Evaluates every case under `dir`; `progress` hears each finished case.
pub fn evaluate(dir: &Path, mut progress: impl FnMut(&CaseResult)) -> Result<EvalReport> {
    let mut cases = Vec::new();
    for case in find_cases(dir)? {
        let result = evaluate_case(&case).with_context(|| format!("case {}", case.display()))?;
        progress(&result);
        cases.push(result);
    }
    let ranks = |f: &dyn Fn(&CaseResult) -> Option<usize>, filter: &dyn Fn(&CaseResult) -> bool| {
        cases
            .iter()
            .filter(|c| filter(c))
            .map(f)
            .collect::<Vec<_>>()
    };
    let all = |_: &CaseResult| true;
    let mut by_fault_type = BTreeMap::new();
    let types: std::collections::BTreeSet<String> =
        cases.iter().filter_map(|c| c.fault_type.clone()).collect();
    for t in types {
        let only = |c: &CaseResult| c.fault_type.as_deref() == Some(t.as_str());
        by_fault_type.insert(
            t.clone(),
            (
                Scores::of(&ranks(&|c| c.rank, &only)),
                Scores::of(&ranks(&|c| c.baseline_rank, &only)),
            ),
        );
    }
    Ok(EvalReport {
        tapio: Scores::of(&ranks(&|c| c.rank, &all)),
        baseline: Scores::of(&ranks(&|c| c.baseline_rank, &all)),
        by_fault_type,
        cases,
    })
}

/// The report as a table for people.
pub fn render(r: &EvalReport) -> String {
    let mut out = String::new();
    let rank = |r: Option<usize>| r.map_or("-".to_owned(), |r| r.to_string());
    out.push_str(&format!(
        "{:<12} {:<16} {:<24} {:>5} {:>8} {:>6} {:>9}  top\n",
        "case", "fault", "truth", "rank", "n-sigma", "conf", "ms"
    ));
    for c in &r.cases {
        out.push_str(&format!(
            "{:<12} {:<16} {:<24} {:>5} {:>8} {:>6} {:>9.1}  {}\n",
            c.case,
            c.fault_type.as_deref().unwrap_or("-"),
            c.truth,
            rank(c.rank),
            rank(c.baseline_rank),
            c.confidence.map_or("-".to_owned(), |x| format!("{x:.2}")),
            c.elapsed_ms,
            c.ranking.first().map_or("-", String::as_str)
        ));
    }
    out.push_str(&format!(
        "\n{:<22} {:>6} {:>6} {:>6}   {:>6} {:>6} {:>6}\n",
        "", "AC@1", "AC@3", "Avg@5", "AC@1", "AC@3", "Avg@5"
    ));
    out.push_str(&format!(
        "{:<22} {:^20}   {:^20}\n",
        "", "tapio", "n-sigma (same run)"
    ));
    let line = |name: &str, t: &Scores, b: &Scores| {
        format!(
            "{:<22} {:>6.3} {:>6.3} {:>6.3}   {:>6.3} {:>6.3} {:>6.3}\n",
            name, t.ac1, t.ac3, t.avg5, b.ac1, b.ac3, b.avg5
        )
    };
    out.push_str(&line(
        &format!("all ({})", r.tapio.cases),
        &r.tapio,
        &r.baseline,
    ));
    for (t, (a, b)) in &r.by_fault_type {
        out.push_str(&line(&format!("{t} ({})", a.cases), a, b));
    }
    let times: Vec<f64> = r.cases.iter().map(|c| c.elapsed_ms).collect();
    let max = times.iter().copied().fold(0.0, f64::max);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    out.push_str(&format!("\nper case: mean {mean:.0} ms, max {max:.0} ms\n"));
    out
}
