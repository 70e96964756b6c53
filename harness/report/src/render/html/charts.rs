//! The plots of the HTML report, drawn as SVG by `plotters`: latency over time per metric and
//! percentile, the latency distribution (percentile curve on a log scale), throughput and
//! connected devices over time, and latency per hop of the pipeline.

use plotters::coord::Shift;
use plotters::coord::ranged1d::Ranged;
use plotters::prelude::*;

/// Width and height of every plot, in pixels.
const SIZE: (u32, u32) = (760, 300);
/// The font of captions and labels.
const FONT: &str = "sans-serif";
/// Line colours, in series order: distinct on white and for common colour blindness
/// (Okabe–Ito).
const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(0, 158, 115),
    RGBColor(213, 94, 0),
    RGBColor(120, 120, 120),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// Lines of fewer points than this also get a marker at each point, so that a series of one
/// interval still shows.
const MARKED_BELOW: usize = 60;

fn colour(i: usize) -> RGBColor {
    COLOURS[i % COLOURS.len()]
}

/// One named line of a plot.
pub(super) struct Line {
    /// The legend.
    pub name: String,
    /// Its points, in plot coordinates.
    pub points: Vec<(f64, f64)>,
}

/// Axis descriptions of a plot.
pub(super) struct Axes<'a> {
    /// The caption above the plot.
    pub caption: &'a str,
    /// Description of the x axis.
    pub x: &'a str,
    /// Description of the y axis.
    pub y: &'a str,
    /// The end of the x axis, when the lines need not reach it (plots of one run share it).
    pub x_end: Option<f64>,
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

/// Lines against time (or any linear x), y from zero.
pub(super) fn lines(axes: &Axes, lines: &[Line]) -> String {
    render(|root| {
        let (x_max, y_max) = extent(lines);
        let x_max = axes.x_end.map_or(x_max, |end| end.max(x_max));
        let mut chart = frame(root, axes.caption).build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(axes.x)
            .y_desc(axes.y)
            .label_style((FONT, 12))
            .max_light_lines(2)
            .draw()?;
        for (i, line) in lines.iter().enumerate() {
            let colour = colour(i);
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(&line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
            if line.points.len() < MARKED_BELOW {
                chart.draw_series(PointSeries::of_element(
                    line.points.iter().copied(),
                    3,
                    colour.filled(),
                    &|at, size, style| EmptyElement::at(at) + Circle::new((0, 0), size, style),
                ))?;
            }
        }
        legend(&mut chart)
    })
}

/// Percentile curves: x is the percentile, drawn on a log scale of 1 / (1 − q) so that the
/// tail (99 %, 99.9 %, …) gets as much room as the median; y is the latency.
pub(super) fn percentiles(axes: &Axes, lines: &[Line]) -> String {
    render(|root| {
        let (x_max, y_max) = extent(lines);
        let mut chart =
            frame(root, axes.caption).build_cartesian_2d((1.0..x_max.max(10.0)).log_scale(), 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(axes.x)
            .y_desc(axes.y)
            .label_style((FONT, 12))
            .max_light_lines(2)
            .x_label_formatter(&|v| percentile_label(*v))
            .draw()?;
        for (i, line) in lines.iter().enumerate() {
            let colour = colour(i);
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(&line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        }
        legend(&mut chart)
    })
}

/// Lines with a marker at every point over named categories (the hops of the pipeline).
pub(super) fn categories(axes: &Axes, names: &[String], lines: &[Line]) -> String {
    render(|root| {
        let (_, y_max) = extent(lines);
        let x_max = names.len().max(1) as f64 - 0.5;
        let mut chart = frame(root, axes.caption).build_cartesian_2d(-0.5..x_max, 0.0..y_max)?;
        let label = |v: &f64| {
            let index = v.round();
            let exact = (v - index).abs() < 1e-6 && index >= 0.0;
            names
                .get(index as usize)
                .filter(|_| exact)
                .cloned()
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_desc(axes.x)
            .y_desc(axes.y)
            .x_labels(names.len().max(1) * 2 + 1)
            .x_label_formatter(&label)
            .label_style((FONT, 12))
            .disable_x_mesh()
            .draw()?;
        for (i, line) in lines.iter().enumerate() {
            let colour = colour(i);
            chart
                .draw_series(LineSeries::new(
                    line.points.iter().copied(),
                    colour.stroke_width(2),
                ))?
                .label(&line.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
            chart.draw_series(PointSeries::of_element(
                line.points.iter().copied(),
                4,
                colour.filled(),
                &|at, size, style| EmptyElement::at(at) + Circle::new((0, 0), size, style),
            ))?;
        }
        legend(&mut chart)
    })
}

/// `50%`, `90%`, `99.9%` for x = 1 / (1 − q).
fn percentile_label(x: f64) -> String {
    let q = (1.0 - 1.0 / x) * 100.0;
    let text = format!("{q:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn frame<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    caption: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(caption, (FONT, 16))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(64);
    builder
}

fn legend<'a, X, Y>(chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, Y>>) -> Drawn
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()?;
    Ok(())
}

/// The share of a plot's height the data may fill: the legend sits in the rest, above it.
const DATA_HEIGHT: f64 = 0.7;

/// The largest x and y over every line, at least 1 so that an axis is never empty; y leaves
/// the top of the plot to the legend.
fn extent(lines: &[Line]) -> (f64, f64) {
    let points = lines.iter().flat_map(|l| l.points.iter());
    let (x, y) = points.fold((0.0_f64, 0.0_f64), |(x, y), (px, py)| (x.max(*px), y.max(*py)));
    (x.max(1.0), (y / DATA_HEIGHT).max(1e-3))
}

/// Draws into an SVG string; a drawing error becomes a visible message instead of a plot.
fn render(draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> Drawn) -> String {
    let mut svg = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE)
            .map_err(|e| e.to_string().into())
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(|e| e.to_string().into()))
    };
    match result {
        Ok(()) => svg,
        Err(e) => format!(
            "<p class=\"plot-error\">the plot could not be drawn: {}</p>",
            super::escape(&e.to_string())
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_labels_read_as_percentiles() {
        assert_eq!(percentile_label(2.0), "50%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(1_000.0), "99.9%");
        assert_eq!(percentile_label(1.0), "0%");
    }

    #[test]
    fn a_line_plot_is_an_svg_with_the_points_and_the_legend() {
        let svg = lines(
            &Axes {
                caption: "publish.puback",
                x: "s",
                y: "ms",
                x_end: None,
            },
            &[Line {
                name: "p99".into(),
                points: vec![(1.0, 2.0), (2.0, 3.0), (3.0, 2.5)],
            }],
        );
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(svg.contains("\np99\n</text>"), "{svg}");
    }
}
