//! The timeline as one HTML page: inline CSS, a few lines of inline JS (zoom, details on
//! click), nothing fetched, so it opens from a CI artifact or an air-gapped machine.

use std::fmt::Write;

use super::layout::{millis, pack, Axis};
use super::{Bar, Event, EventKind, Mark, Timeline};

/// Height of one sub-row of bars, in px.
const ROW_PX: usize = 20;

/// How many characters of a bar's text are shown on the bar (all of it is in its details).
const BAR_TEXT: usize = 60;

/// Past this percentage of the axis an instant's label goes on its left.
const LABEL_FLIP: f64 = 70.0;

/// About how wide a character of an event label is, and the chart at zoom 1, in px: enough
/// to keep nearby labels apart.
const CHAR_PX: f64 = 6.5;
const CHART_PX: f64 = 1_000.0;

/// How many characters of a value the details show before cutting.
const DETAIL_TEXT: usize = 2_000;

const STYLE: &str = r#"
body{font:13px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px}
pre{white-space:pre-wrap;margin:6px 0}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
.scroll{overflow-x:auto;border:1px solid #ccc;margin-top:8px}
.chart{--z:1;position:relative;width:calc(15em + var(--z)*(100vw - 17em - 40px))}
.row{display:flex;border-bottom:1px solid #eee}
.label{position:sticky;left:0;z-index:3;flex:none;width:15em;padding:2px 4px;box-sizing:border-box;
 background:#fafafa;border-right:1px solid #ccc;overflow:hidden;white-space:nowrap;text-overflow:ellipsis}
.track{position:relative;flex:1}
.group{background:#eef;font-weight:600;border-bottom:1px solid #ccd}
.group span{position:sticky;left:0;padding:2px 4px;display:inline-block}
.bar,.ev{position:absolute;height:16px;min-width:3px;box-sizing:border-box;border-radius:3px;
 font-size:11px;line-height:14px;padding:0 3px;overflow:hidden;white-space:nowrap;cursor:pointer;z-index:2}
.bar{background:#cfe0f7;border:1px solid #7fa7da}
.m-lin{background:#c9efc9;border:1px solid #3c9a3c}
.m-fail{background:#f7b4b4;border:2px solid #c00;font-weight:700}
.m-out{background:#eee;border:1px dashed #999;color:#666}
.open{border-right-style:dashed;opacity:.75}
.ev{border:1px solid #888}
.k-partition{background:#ffe6a8}.k-heal{background:#d8f5d0}.k-crash{background:#f5b0b0}
.k-restart{background:#b9e4f7}.k-election{background:#e3cff7}.k-note{background:#eee}
.guides{position:absolute;left:15em;right:0;top:0;bottom:0;pointer-events:none;z-index:1}
.guides b{position:absolute;top:0;bottom:0;border-left:1px dashed}
.tick{position:absolute;top:2px;font-size:11px;color:#555;border-left:1px solid #bbb;padding-left:2px}
#detail{position:sticky;bottom:0;background:#fffbe6;border:1px solid #e0d08a;padding:6px;min-height:2.8em}
"#;

const SCRIPT: &str = r#"
const chart=document.querySelector('.chart'),zoom=document.getElementById('zoom'),
 zv=document.getElementById('zv'),detail=document.getElementById('detail');
zoom.addEventListener('input',()=>{chart.style.setProperty('--z',zoom.value);zv.textContent=zoom.value+'x';});
chart.addEventListener('click',e=>{const el=e.target.closest('[title]');if(el)detail.textContent=el.title;});
"#;

/// The page for `timeline`.
pub(super) fn render(timeline: &Timeline) -> String {
    let axis = axis_of(timeline);
    let mut page = String::new();
    let title = escape(&timeline.title);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
    if !timeline.notes.is_empty() {
        let _ = writeln!(
            page,
            "<pre class=\"notes\">{}</pre>",
            escape(&timeline.notes.join("\n"))
        );
    }
    page.push_str(LEGEND);
    page.push_str(
        "<div>zoom <input id=\"zoom\" type=\"range\" min=\"1\" max=\"60\" value=\"1\"> \
         <span id=\"zv\">1x</span> &nbsp; hover or click a bar or event for its details</div>\n",
    );
    page.push_str("<div class=\"scroll\"><div class=\"chart\">\n");
    axis_row(&mut page, &axis);
    event_rows(&mut page, timeline, &axis);
    lane_rows(&mut page, timeline, &axis);
    guides(&mut page, timeline, &axis);
    page.push_str("</div></div>\n<pre id=\"detail\">details appear here</pre>\n");
    let _ = write!(page, "<script>{SCRIPT}</script>\n</body></html>\n");
    page
}

const LEGEND: &str = "<div class=\"legend\">\
<span><i class=\"bar\" style=\"position:static\"></i>operation (call to return)</span>\
<span><i class=\"bar m-lin\" style=\"position:static\"></i>#n: n-th in the linearization / longest linearizable prefix</span>\
<span><i class=\"bar m-fail\" style=\"position:static\"></i>cannot be linearized</span>\
<span><i class=\"bar m-out\" style=\"position:static\"></i>left out or not placed by the check</span>\
<span><i class=\"bar open\" style=\"position:static\"></i>never answered</span>\
<span><i class=\"ev k-partition\" style=\"position:static\"></i>partition</span>\
<span><i class=\"ev k-crash\" style=\"position:static\"></i>crash / kill</span>\
<span><i class=\"ev k-restart\" style=\"position:static\"></i>restart</span>\
<span><i class=\"ev k-election\" style=\"position:static\"></i>leader</span>\
</div>\n";

/// Every time the page shows, so nothing falls off the axis.
fn axis_of(timeline: &Timeline) -> Axis {
    let bars = timeline
        .bars
        .iter()
        .flat_map(|b| [Some(b.start), b.end].into_iter().flatten());
    let events = timeline
        .events
        .iter()
        .flat_map(|e| [Some(e.start), e.end].into_iter().flatten());
    Axis::around(bars.chain(events))
}

fn axis_row(page: &mut String, axis: &Axis) {
    page.push_str("<div class=\"row\"><div class=\"label\">time</div><div class=\"track\" style=\"height:18px\">");
    for t in axis.ticks() {
        let _ = write!(
            page,
            "<span class=\"tick\" style=\"left:{:.4}%\">{}</span>",
            axis.percent(t),
            millis(t)
        );
    }
    page.push_str("</div></div>\n");
}

/// The "cluster" group: one row per event row name, spans and instants packed in sub-rows.
fn event_rows(page: &mut String, timeline: &Timeline, axis: &Axis) {
    if timeline.events.is_empty() {
        return;
    }
    page.push_str("<div class=\"group\"><span>cluster</span></div>\n");
    let mut rows: Vec<&str> = Vec::new();
    for event in &timeline.events {
        if !rows.contains(&event.row.as_str()) {
            rows.push(&event.row);
        }
    }
    for row in rows {
        let events: Vec<_> = timeline.events.iter().filter(|e| e.row == row).collect();
        let spans: Vec<(u64, u64)> = events.iter().map(|e| room(e, axis)).collect();
        let (sub, count) = pack(&spans);
        open_row(page, row, count);
        for (event, sub) in events.iter().zip(sub) {
            let left = axis.percent(event.start);
            // A span is as wide as it lasts; an instant is a tick with its label beside it,
            // on its left when it would run off the right edge.
            let size = match event.end {
                Some(end) => format!("width:{:.4}%;", axis.percent(end) - left),
                None if left > LABEL_FLIP => "transform:translateX(-100%);".to_string(),
                None => String::new(),
            };
            let detail = match event.end {
                Some(end) => format!(
                    "{}\n{} from {} to {}",
                    event.text,
                    event.row,
                    millis(event.start),
                    millis(end)
                ),
                None => format!("{}\n{} at {}", event.text, event.row, millis(event.start)),
            };
            let _ = write!(
                page,
                "<div class=\"ev k-{}\" style=\"left:{left:.4}%;{size}top:{}px\" title=\"{}\">{}</div>",
                kind_class(event.kind),
                2 + sub * ROW_PX,
                escape(&detail),
                escape(&clip(&event.text, BAR_TEXT))
            );
        }
        page.push_str("</div></div>\n");
    }
}

/// The stretch of the axis an event takes up: a span its duration, an instant its label (at
/// the narrowest zoom), so that labels of nearby instants go to different sub-rows.
fn room(event: &Event, axis: &Axis) -> (u64, u64) {
    if let Some(end) = event.end {
        return (event.start, end.max(event.start));
    }
    let chars = event.text.chars().count().min(BAR_TEXT) as f64 + 1.0;
    let width = ((axis.to - axis.from) as f64 * chars * CHAR_PX / CHART_PX) as u64;
    if axis.percent(event.start) > LABEL_FLIP {
        (event.start.saturating_sub(width), event.start)
    } else {
        (event.start, event.start.saturating_add(width))
    }
}

/// One row per lane, under a heading each time the group changes.
fn lane_rows(page: &mut String, timeline: &Timeline, axis: &Axis) {
    let mut group: Option<&str> = None;
    // Bars naming a lane that does not exist get one of their own at the end.
    let extra = timeline.bars.iter().any(|b| b.lane >= timeline.lanes.len());
    let lanes = timeline.lanes.len() + usize::from(extra);
    for lane in 0..lanes {
        let (group_name, name) = match timeline.lanes.get(lane) {
            Some(l) => (l.group.as_str(), l.name.as_str()),
            None => ("other", "(no lane)"),
        };
        if group != Some(group_name) {
            let _ = writeln!(
                page,
                "<div class=\"group\"><span>{}</span></div>",
                escape(group_name)
            );
            group = Some(group_name);
        }
        let bars: Vec<&Bar> = timeline
            .bars
            .iter()
            .filter(|b| b.lane == lane || (lane == timeline.lanes.len() && b.lane >= lane))
            .collect();
        let spans: Vec<(u64, u64)> = bars
            .iter()
            .map(|b| (b.start, b.end.unwrap_or(axis.to).max(b.start)))
            .collect();
        let (sub, count) = pack(&spans);
        open_row(page, name, count);
        for ((bar, sub), (start, end)) in bars.iter().zip(sub).zip(spans) {
            bar_div(page, bar, name, axis, start, end, sub);
        }
        page.push_str("</div></div>\n");
    }
}

fn open_row(page: &mut String, label: &str, sub_rows: usize) {
    let _ = write!(
        page,
        "<div class=\"row\"><div class=\"label\" title=\"{0}\">{0}</div><div class=\"track\" style=\"height:{1}px\">",
        escape(label),
        4 + sub_rows * ROW_PX
    );
}

fn bar_div(
    page: &mut String,
    bar: &Bar,
    lane: &str,
    axis: &Axis,
    start: u64,
    end: u64,
    sub: usize,
) {
    let left = axis.percent(start);
    let width = axis.percent(end) - left;
    let (class, tag, meaning) = match bar.mark {
        Mark::Plain => ("bar", String::new(), String::new()),
        Mark::Linearized(n) => (
            "bar m-lin",
            format!("#{n} "),
            format!("\nlinearized as operation #{n}"),
        ),
        Mark::Failed => (
            "bar m-fail",
            "\u{2716} ".to_string(),
            "\nCANNOT BE LINEARIZED after the longest linearizable prefix".to_string(),
        ),
        Mark::Unplaced => (
            "bar m-out",
            String::new(),
            "\nleft out or not placed by the check".to_string(),
        ),
    };
    let open = if bar.end.is_none() { " open" } else { "" };
    let output = bar.output.as_deref().unwrap_or("none");
    let returned = bar.end.map_or_else(|| "never answered".to_string(), millis);
    let detail = format!(
        "{lane}: {}\nanswer: {}\ncalled {}, returned {returned}{meaning}",
        clip(&bar.text, DETAIL_TEXT),
        clip(output, DETAIL_TEXT),
        millis(bar.start)
    );
    let text = format!("{tag}{}", bar.text);
    let _ = write!(
        page,
        "<div class=\"{class}{open}\" style=\"left:{left:.4}%;width:{width:.4}%;top:{}px\" title=\"{}\">{}</div>",
        2 + sub * ROW_PX,
        escape(&detail),
        escape(&clip(&text, BAR_TEXT))
    );
}

/// A dashed line across the chart at the start of every event.
fn guides(page: &mut String, timeline: &Timeline, axis: &Axis) {
    page.push_str("<div class=\"guides\">");
    for event in &timeline.events {
        let _ = write!(
            page,
            "<b style=\"left:{:.4}%;border-color:{}\"></b>",
            axis.percent(event.start),
            guide_colour(event.kind)
        );
    }
    page.push_str("</div>\n");
}

fn kind_class(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Partition => "partition",
        EventKind::Heal => "heal",
        EventKind::Crash => "crash",
        EventKind::Restart => "restart",
        EventKind::Election => "election",
        EventKind::Note => "note",
    }
}

fn guide_colour(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Partition => "#c90",
        EventKind::Heal => "#3a3",
        EventKind::Crash => "#c00",
        EventKind::Restart => "#08c",
        EventKind::Election => "#839",
        EventKind::Note => "#999",
    }
}

/// Cuts long text (an appended-to value can be kilobytes) to its start and its length.
fn clip(text: &str, keep: usize) -> String {
    if text.chars().count() <= keep {
        return text.to_string();
    }
    let head: String = text.chars().take(keep).collect();
    format!("{head}... ({} bytes)", text.len())
}

/// Makes text safe inside an element or a quoted attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' => out.push_str("&#10;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Timeline {
        let mut t = Timeline::new("a <run>");
        t.note("history not linearizable");
        let lane = t.lane("key \"k\"", "client 0");
        t.bar(Bar {
            lane,
            start: 1_000_000,
            end: Some(2_000_000),
            text: "Put(\"k\", \"1\")".into(),
            output: Some("ok".into()),
            mark: Mark::Linearized(1),
        });
        t.bar(Bar {
            lane,
            start: 3_000_000,
            end: None,
            text: "Get(\"k\") -> ?".into(),
            output: None,
            mark: Mark::Failed,
        });
        t.event(Event {
            row: "node 1".into(),
            start: 1_500_000,
            end: Some(2_500_000),
            kind: EventKind::Crash,
            text: "crash node 1".into(),
        });
        t
    }

    #[test]
    fn the_page_shows_bars_marks_and_events_escaped() {
        let page = sample().render();
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>a &lt;run&gt;</title>"));
        assert!(page.contains("#1 Put(&quot;k&quot;, &quot;1&quot;)<"));
        assert!(page.contains("answer: ok"));
        assert!(page.contains("class=\"bar m-fail open\""));
        assert!(page.contains("CANNOT BE LINEARIZED"));
        assert!(page.contains("class=\"ev k-crash\""));
        assert!(page.contains("crash node 1"));
        assert!(page.contains("history not linearizable"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let page = sample().render();
        for outside in ["http://", "https://", "src=", "href=", "@import"] {
            assert!(!page.contains(outside), "the page refers to {outside}");
        }
    }

    #[test]
    fn long_text_is_cut() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("abcdef", 2), "ab... (6 bytes)");
    }
}
