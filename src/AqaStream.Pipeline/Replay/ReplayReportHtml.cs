using System.Globalization;
using System.Net;
using System.Text;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Replay;

/// <summary>
/// <c>report.html</c>: one self-contained page (inline CSS and SVG, no scripts, no network) with the metrics, the
/// early-prediction curve and, per performance, the picture of Figure 1 of the main paper: clip scores and the running
/// provisional total above, clip weights below.
/// </summary>
public static class ReplayReportHtml
{
    private const int Width = 860;
    private const int Left = 48;
    private const int Right = 16;


    /// <summary>Renders the page.</summary>
    public static string Render(ReplayReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var h = new StringBuilder();
        h.Append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>AqaStream replay: ")
            .Append(E(report.Model.Id)).Append("</title>\n<style>")
            .Append("body{font:14px system-ui,sans-serif;margin:24px;color:#222;max-width:940px}")
            .Append("table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}")
            .Append("th:first-child,td:first-child{text-align:left}svg{background:#fafafa;border:1px solid #e4e4e4}")
            .Append(".score{fill:#c0392b}.deduction{fill:none;stroke:#8e44ad;stroke-width:2}.total{stroke:#2c3e50;fill:none;stroke-width:2}.label{stroke:#27ae60;stroke-dasharray:5 4}")
            .Append(".weight{fill:#2980b9}.axis{stroke:#999}.grid{stroke:#e8e8e8}text{font-size:11px;fill:#555}")
            .Append(".rho{stroke:#8e44ad;fill:none;stroke-width:2}.mse{stroke:#d35400;fill:none;stroke-width:2}details{margin:10px 0}")
            .Append("summary{cursor:pointer}</style></head><body>\n");
        h.Append("<h1>Replay of ").Append(E(report.Model.Id)).Append("</h1>\n<table>");
        Row(h, "Model", $"{report.Model.Id} ({report.Model.Target}, {report.Model.Mode} mode, version {report.Model.Version})");
        Row(h, "Performances", $"{report.Performances} ({report.Labelled} with labels)");
        Row(h, "Speed", $"{report.Speed}: {F(report.ReplaySeconds, "0.0")} s");
        Row(h, "Clips scored / missing / dead letters", $"{report.ClipsScored} / {report.ClipsMissing} / {report.DeadLetters}");
        if (report.Spearman is { } rho)
        {
            Row(h, "Spearman ρ (final)", F(rho, "0.0000"));
            Row(h, "MSE (points²)", F(report.Mse!.Value, "0.000"));
            Row(h, "R-ℓ2", F(report.Rl2!.Value, "0.00000"));
            if (report.Analysis is { } a)
            {
                Row(h, "ρ, 95 % bootstrap interval", $"[{F(a.SpearmanInterval95[0], "0.000")}, {F(a.SpearmanInterval95[1], "0.000")}]");
                Row(h, "Bias (mean predicted − judged)", F(a.Bias, "+0.00;−0.00"));
            }
        }
        h.Append("</table>\n");
        if (report.Analysis is { } analysis) { Analysis(h, report, analysis); }
        if (report.EarlyPrediction.Count > 0)
        {
            h.Append("<h2>Early prediction</h2>\n<p>Spearman ρ and MSE of the provisional score against the judges' final score after each fraction of every performance's clips.</p>\n");
            EarlyPredictionChart(h, report.EarlyPrediction);
            h.Append("<table><tr><th>clips seen</th><th>Spearman ρ</th><th>MSE</th></tr>");
            foreach (var p in report.EarlyPrediction)
            {
                h.Append("<tr><td>").Append(F(p.Fraction * 100, "0")).Append(" %</td><td>").Append(F(p.Spearman, "0.0000"))
                    .Append("</td><td>").Append(F(p.Mse, "0.00")).Append("</td></tr>");
            }
            h.Append("</table>\n");
        }
        else
        {
            h.Append("<p>No labels were given: no metrics or early-prediction curve.</p>\n");
        }
        h.Append("<h2>Performances</h2>\n<p>Top: clip scores s<sub>q</sub> (red dots) and the provisional total as it was published live (dark line)")
            .Append(", judges' score dashed green. Bottom: final clip weights w<sub>q</sub> (difficulty).</p>\n");
        for (var i = 0; i < report.Timelines.Count; i++)
        {
            var t = report.Timelines[i];
            h.Append(i < 3 ? "<details open>" : "<details>").Append("<summary>").Append(E(t.PerformanceId)).Append(": final ")
                .Append(t.Final is { } f ? F(f, "0.00") : "none");
            if (t.Label is { } l) { h.Append(", judges ").Append(F(l, "0.00")); }
            h.Append(", ").Append(t.Clips.Count).Append(" clips");
            if (t.MissingClips.Count > 0) { h.Append(", missing ").Append(string.Join(", ", t.MissingClips)); }
            h.Append("</summary>\n");
            Timeline(h, t);
            h.Append("</details>\n");
        }
        h.Append("</body></html>\n");
        return h.ToString();
    }

    private static void Timeline(StringBuilder h, TimelineReport t)
    {
        const int top = 10, scoreHeight = 150, gap = 24, weightHeight = 70, bottom = 20;
        var height = top + scoreHeight + gap + weightHeight + bottom;
        var n = Math.Max(1, t.Clips.Count);
        var values = t.Clips.Select(c => c.Score).Concat(t.Clips.Select(c => c.Provisional ?? c.Score)).ToList();
        if (t.Label is { } label) { values.Add(label); }
        var lo = values.Count > 0 ? Math.Floor(values.Min()) : 0;
        var hi = values.Count > 0 ? Math.Ceiling(values.Max()) : 1;
        if (hi - lo < 1) { hi = lo + 1; }
        var maxWeight = t.Clips.Count > 0 ? Math.Max(1e-9, t.Clips.Max(c => c.Weight)) : 1;
        double X(int q) => Left + ((Width - Left - Right) * (q + 0.5) / n);
        double Y(double v) => top + (scoreHeight * (hi - v) / (hi - lo));
        h.Append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").Append(Width).Append("\" height=\"").Append(height)
            .Append("\" role=\"img\" aria-label=\"timeline of ").Append(E(t.PerformanceId)).Append("\">");
        for (var k = 0; k <= 4; k++)
        {
            var v = lo + ((hi - lo) * k / 4);
            h.Append("<line class=\"grid\" x1=\"").Append(Left).Append("\" x2=\"").Append(Width - Right).Append("\" y1=\"").Append(F(Y(v)))
                .Append("\" y2=\"").Append(F(Y(v))).Append("\"/><text x=\"4\" y=\"").Append(F(Y(v) + 4)).Append("\">").Append(F(v, "0.#")).Append("</text>");
        }
        if (t.Label is { } lab)
        {
            h.Append("<line class=\"label\" x1=\"").Append(Left).Append("\" x2=\"").Append(Width - Right).Append("\" y1=\"").Append(F(Y(lab)))
                .Append("\" y2=\"").Append(F(Y(lab))).Append("\"/>");
        }
        foreach (var (c, q) in t.Clips.Select((c, q) => (c, q)))
        {
            h.Append("<circle class=\"score\" r=\"2\" cx=\"").Append(F(X(q))).Append("\" cy=\"").Append(F(Y(c.Score))).Append("\"><title>clip ")
                .Append(c.ClipIndex).Append(": score ").Append(F(c.Score, "0.00")).Append(", weight ").Append(F(c.Weight, "0.0000"))
                .Append(", contribution ").Append(F(c.Contribution, "0.000"));
            if (c.Deduction != 0) { h.Append(", expected deduction ").Append(F(c.Deduction, "0.00")); }
            h.Append("</title></circle>");
            if (ClipScore.IsLikelyFall(c.Deduction))
            {
                // A likely fall: a ring at the clip, so the analyst finds it without reading every tooltip.
                h.Append("<circle class=\"deduction\" r=\"5\" cx=\"").Append(F(X(q))).Append("\" cy=\"").Append(F(Y(c.Score))).Append("\"><title>clip ")
                    .Append(c.ClipIndex).Append(": expected deduction ").Append(F(c.Deduction, "0.00")).Append(" points</title></circle>");
            }
        }
        var path = string.Join(" ", t.Clips.Select((c, q) => (c, q)).Where(p => p.c.Provisional is not null)
            .Select(p => $"{F(X(p.q))},{F(Y(p.c.Provisional!.Value))}"));
        if (path.Length > 0) { h.Append("<polyline class=\"total\" points=\"").Append(path).Append("\"/>"); }
        var baseY = top + scoreHeight + gap + weightHeight;
        var barWidth = Math.Max(1, ((Width - Left - Right) / (double)n) - 1);
        foreach (var (c, q) in t.Clips.Select((c, q) => (c, q)))
        {
            var bh = weightHeight * c.Weight / maxWeight;
            h.Append("<rect class=\"weight\" x=\"").Append(F(X(q) - (barWidth / 2))).Append("\" y=\"").Append(F(baseY - bh)).Append("\" width=\"")
                .Append(F(barWidth)).Append("\" height=\"").Append(F(bh)).Append("\"/>");
        }
        h.Append("<line class=\"axis\" x1=\"").Append(Left).Append("\" x2=\"").Append(Width - Right).Append("\" y1=\"").Append(baseY).Append("\" y2=\"").Append(baseY).Append("\"/>")
            .Append("<text x=\"4\" y=\"").Append(baseY - weightHeight + 10).Append("\">w max ").Append(F(maxWeight, "0.000")).Append("</text>")
            .Append("<text x=\"").Append(Left).Append("\" y=\"").Append(height - 4).Append("\">clip 0</text>")
            .Append("<text x=\"").Append(Width - Right - 60).Append("\" y=\"").Append(height - 4).Append("\">clip ").Append(n - 1).Append("</text>")
            .Append("</svg>\n");
    }

    private static void EarlyPredictionChart(StringBuilder h, IReadOnlyList<EarlyPredictionPoint> points)
    {
        const int height = 200, top = 12, plot = 160;
        var maxMse = Math.Max(1e-9, points.Max(p => p.Mse));
        double X(double f) => Left + ((Width - Left - Right - 40) * (f - 0.1) / 0.9);
        double YRho(double r) => top + (plot * (1 - Math.Clamp(r, -1, 1)) / 2);
        double YMse(double m) => top + (plot * (1 - (m / maxMse)));
        h.Append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"").Append(Width).Append("\" height=\"").Append(height).Append("\" role=\"img\" aria-label=\"early prediction\">");
        foreach (var r in new[] { -1.0, -0.5, 0, 0.5, 1 })
        {
            h.Append("<line class=\"grid\" x1=\"").Append(Left).Append("\" x2=\"").Append(Width - Right - 40).Append("\" y1=\"").Append(F(YRho(r)))
                .Append("\" y2=\"").Append(F(YRho(r))).Append("\"/><text x=\"4\" y=\"").Append(F(YRho(r) + 4)).Append("\">ρ ").Append(F(r, "0.0")).Append("</text>");
        }
        h.Append("<polyline class=\"rho\" points=\"").Append(string.Join(" ", points.Select(p => $"{F(X(p.Fraction))},{F(YRho(p.Spearman))}"))).Append("\"/>")
            .Append("<polyline class=\"mse\" points=\"").Append(string.Join(" ", points.Select(p => $"{F(X(p.Fraction))},{F(YMse(p.Mse))}"))).Append("\"/>");
        foreach (var p in points)
        {
            h.Append("<text x=\"").Append(F(X(p.Fraction) - 10)).Append("\" y=\"").Append(height - 8).Append("\">").Append(F(p.Fraction * 100, "0")).Append("%</text>");
        }
        h.Append("<text x=\"").Append(Width - Right - 36).Append("\" y=\"").Append(F(YMse(maxMse) + 4)).Append("\">MSE ").Append(F(maxMse, "0")).Append("</text>")
            .Append("<text x=\"").Append(Width - Right - 36).Append("\" y=\"").Append(F(YMse(0) + 4)).Append("\">MSE 0</text>")
            .Append("<text x=\"").Append(Left + 8).Append("\" y=\"").Append(top + 12).Append("\" style=\"fill:#8e44ad\">Spearman ρ</text>")
            .Append("<text x=\"").Append(Left + 90).Append("\" y=\"").Append(top + 12).Append("\" style=\"fill:#d35400\">MSE (right scale)</text></svg>\n");
    }

    private static void Analysis(StringBuilder h, ReplayReport report, ReplayAnalysis a)
    {
        h.Append("<h2>Against the baselines</h2>\n");
        if (a.Baselines.Count > 0)
        {
            h.Append("<p>On the same performances; the baselines were fitted on labelled performances that were not replayed.</p>\n")
                .Append("<table><tr><th>scorer</th><th>Spearman ρ</th><th>MSE</th><th>bias</th><th>fitted on</th></tr>");
            h.Append("<tr><td><b>").Append(E(report.Model.Id)).Append("</b> (the model)</td><td>").Append(F(report.Spearman ?? double.NaN, "0.0000")).Append("</td><td>")
                .Append(F(report.Mse ?? double.NaN, "0.000")).Append("</td><td>").Append(F(a.Bias, "+0.00;−0.00")).Append("</td><td></td></tr>");
            foreach (var b in a.Baselines)
            {
                h.Append("<tr><td>").Append(E(b.Name)).Append(" (").Append(E(b.Description)).Append(")</td><td>").Append(b.Spearman is { } r ? F(r, "0.0000") : "–")
                    .Append("</td><td>").Append(F(b.Mse, "0.000")).Append("</td><td>").Append(F(b.Bias, "+0.00;−0.00")).Append("</td><td>").Append(b.TrainedOn).Append("</td></tr>");
            }
            h.Append("</table>\n");
        }
        else
        {
            h.Append("<p>").Append(E(a.BaselineNote ?? "no baselines")).Append("</p>\n");
        }
        Scatter(h, report);
        if (a.CompetitionSummary() is { } within)
        {
            h.Append("<h2>Within each competition</h2>\n<p>").Append(E(within)).Append(". The pooled ρ above also counts how well the model ")
                .Append("tells the events' levels apart; the standings rank the skaters of one event.</p>\n")
                .Append("<table><tr><th>competition</th><th>performances</th><th>Spearman ρ</th></tr>");
            foreach (var c in a.Competitions!)
            {
                h.Append("<tr><td>").Append(E(c.Competition)).Append("</td><td>").Append(c.Performances).Append("</td><td>")
                    .Append(c.Spearman is { } r ? F(r, "0.000") : "– (constant)").Append("</td></tr>");
            }
            h.Append("</table>\n");
        }
        h.Append("<h2>Largest errors</h2>\n<table><tr><th>performance</th><th>predicted</th><th>judged</th><th>error</th></tr>");
        foreach (var e in a.LargestErrors)
        {
            h.Append("<tr><td>").Append(E(e.PerformanceId)).Append("</td><td>").Append(F(e.Predicted, "0.00")).Append("</td><td>").Append(F(e.Judged, "0.00"))
                .Append("</td><td>").Append(F(e.Error, "+0.00;−0.00")).Append("</td></tr>");
        }
        h.Append("</table>\n<h2>Impossible values</h2>\n");
        if (a.Impossible.Count == 0) { h.Append("<p>None: no negative final or clip score.</p>\n"); }
        else
        {
            h.Append("<ul class=\"impossible\">");
            foreach (var i in a.Impossible) { h.Append("<li><b>").Append(E(i.PerformanceId)).Append("</b>: ").Append(E(i.What)).Append("</li>"); }
            h.Append("</ul>\n");
        }
        if (a.Falls is { } f)
        {
            h.Append("<h2>Likely falls against the judges' deductions</h2>\n<p>").Append(E(f.Summary())).Append(".</p>\n")
                .Append("<table class=\"falls\"><tr><th></th><th>judges deducted</th><th>no deduction</th></tr>")
                .Append("<tr><td>a likely fall</td><td>").Append(f.Hits).Append("</td><td>").Append(f.FalseAlarms).Append("</td></tr>")
                .Append("<tr><td>none</td><td>").Append(f.Missed).Append("</td><td>").Append(f.Performances - f.WithJudgedDeduction - f.FalseAlarms).Append("</td></tr></table>\n");
            if (f.MissedIds.Count > 0) { h.Append("<p>Missed: ").Append(E(string.Join(", ", f.MissedIds))).Append(".</p>\n"); }
            if (f.FalseAlarmIds.Count > 0) { h.Append("<p>False alarms: ").Append(E(string.Join(", ", f.FalseAlarmIds))).Append(".</p>\n"); }
        }
    }

    // Predicted against judged final scores, with the identity line.
    private static void Scatter(StringBuilder h, ReplayReport report)
    {
        var points = report.Timelines.Where(t => t.Label is not null && t.Final is not null).Select(t => (X: t.Label!.Value, Y: t.Final!.Value, t.PerformanceId)).ToList();
        if (points.Count == 0) { return; }
        const int size = 420, pad = 44;
        var lo = Math.Floor(Math.Min(points.Min(p => p.X), points.Min(p => p.Y)));
        var hi = Math.Ceiling(Math.Max(points.Max(p => p.X), points.Max(p => p.Y)));
        if (hi <= lo) { hi = lo + 1; }
        double Px(double v) => pad + ((size - pad - 10) * (v - lo) / (hi - lo));
        double Py(double v) => size - pad - ((size - pad - 10) * (v - lo) / (hi - lo));
        h.Append("<h2>Predicted against judged</h2>\n<svg class=\"scatter\" width=\"").Append(size).Append("\" height=\"").Append(size).Append("\" role=\"img\" aria-label=\"predicted against judged\">");
        h.Append(FormattableString.Invariant($"<line class=\"label\" x1=\"{Px(lo):0.0}\" y1=\"{Py(lo):0.0}\" x2=\"{Px(hi):0.0}\" y2=\"{Py(hi):0.0}\"/>"));
        h.Append(FormattableString.Invariant($"<line class=\"axis\" x1=\"{pad}\" y1=\"{size - pad}\" x2=\"{size - 10}\" y2=\"{size - pad}\"/><line class=\"axis\" x1=\"{pad}\" y1=\"10\" x2=\"{pad}\" y2=\"{size - pad}\"/>"));
        h.Append(FormattableString.Invariant($"<text x=\"{size / 2 - 40}\" y=\"{size - 8}\">judged (points)</text><text x=\"4\" y=\"20\">predicted</text>"));
        h.Append(FormattableString.Invariant($"<text x=\"{pad - 4}\" y=\"{size - pad + 14}\">{lo:0}</text><text x=\"{size - 30}\" y=\"{size - pad + 14}\">{hi:0}</text>"));
        foreach (var (x, y, id) in points)
        {
            h.Append(FormattableString.Invariant($"<circle class=\"score\" cx=\"{Px(x):0.0}\" cy=\"{Py(y):0.0}\" r=\"3\"><title>{E(id)}: predicted {y:0.00}, judged {x:0.00}</title></circle>"));
        }
        h.Append("</svg>\n");
    }

    private static void Row(StringBuilder h, string name, string value) =>
        h.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(E(value)).Append("</td></tr>");

    private static string E(string s) => WebUtility.HtmlEncode(s);

    private static string F(double v, string format = "0.##") => v.ToString(format, CultureInfo.InvariantCulture);
}
