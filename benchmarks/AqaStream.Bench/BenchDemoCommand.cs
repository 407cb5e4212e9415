using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AqaStream.Cli;
using AqaStream.Cli.Commands;

namespace AqaStream.Bench;

/// <summary>
/// <c>./bench demo</c>: the end-to-end latency of the one-command demo as a viewer sees it. Starts <c>aqa demo</c> as
/// its own process (real-time synthetic venue, ingest, scorer, hub), opens the overlay in Debian's chromium
/// (tools/browser/scenarios.mjs, playwright-core) and reads the overlay's paint records: for every new provisional
/// score, when the chunk that completed its clip reached the ingest, when the scorer produced it, and when the overlay
/// painted it. Reports p50/p99/max of chunk → paint, split into ingest + scoring and delivery + paint.
/// </summary>
internal static partial class BenchDemoCommand
{
    public static Command Create()
    {
        var seconds = new Option<int>("--seconds") { Description = "How long the overlay watches.", DefaultValueFactory = _ => 60 };
        var size = new Option<string>("--size") { Description = "Picture size of the demo's venue camera.", DefaultValueFactory = _ => "1280x720" };
        var target = new Option<double>("--p99-target-ms") { Description = "Target for chunk → overlay repaint p99.", DefaultValueFactory = _ => 1000 };
        var warmUp = new Option<int>("--warm-up-seconds") { Description = "Paints of clips whose video arrived this soon after the first are reported apart (process start: JIT, ffmpeg pool, browser start).", DefaultValueFactory = _ => 20 };
        var cmd = new Command("demo", "End to end in the demo: chunk reaching the ingest → overlay repainted with the new provisional score (p50/p99), in a real browser.")
        {
            seconds, size, target, warmUp,
        };
        cmd.SetAction(r => AqaApp.Guarded(() => Run(Math.Max(10, r.GetValue(seconds)), r.GetValue(size)!, r.GetValue(target), Math.Max(0, r.GetValue(warmUp)))));
        return cmd;
    }

    [GeneratedRegex(@"overlay:\s+(http://\S+/overlay)")]
    private static partial Regex OverlayUrl();

    private static int Run(int seconds, string size, double targetMs, int warmUpSeconds)
    {
        var inv = CultureInfo.InvariantCulture;
        var root = RepositoryLayout.Root();
        var script = Path.Combine(root, "tools", "browser", "scenarios.mjs");
        if (!File.Exists("/usr/bin/chromium")) { throw new InvalidOperationException("chromium is not installed: run tools/setup.sh --with-browser."); }
        var demo = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        demo.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "aqa.dll"));
        foreach (var a in new[] { "demo", "--port", "0", "--size", size }) { demo.ArgumentList.Add(a); }
        using var demoProcess = Process.Start(demo) ?? throw new InvalidOperationException("aqa demo did not start");
        _ = demoProcess.StandardError.ReadToEndAsync();
        try
        {
            string? url = null;
            while (url is null && demoProcess.StandardOutput.ReadLine() is { } line)
            {
                if (OverlayUrl().Match(line) is { Success: true } m) { url = m.Groups[1].Value; }
            }
            if (url is null) { throw new InvalidOperationException("aqa demo exited before printing its URLs."); }
            _ = demoProcess.StandardOutput.ReadToEndAsync();
            Console.WriteLine(string.Create(inv, $"bench demo: aqa demo at {size} (real time), overlay {url} in chromium for {seconds} s, {Environment.ProcessorCount} cores"));
            var browser = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true };
            browser.ArgumentList.Add(script);
            browser.ArgumentList.Add("paints");
            browser.ArgumentList.Add(JsonSerializer.Serialize(new { url, seconds }));
            browser.Environment["AQA_WEB_DIR"] = Path.Combine(root, "web");
            using var node = Process.Start(browser) ?? throw new InvalidOperationException("node did not start");
            var bar = new ProgressBar(seconds, "s");
            string? result = null;
            var tick = 0;
            while (node.StandardOutput.ReadLine() is { } line)
            {
                if (line.StartsWith("result ", StringComparison.Ordinal)) { result = line[7..]; }
                else if (line.StartsWith("paints ", StringComparison.Ordinal)) { bar.Report(Math.Min(seconds, ++tick)); }
            }
            bar.Done();
            node.WaitForExit();
            if (result is null) { throw new InvalidOperationException("the browser gave no result: " + node.StandardError.ReadToEnd()); }
            var paints = JsonDocument.Parse(result).RootElement.GetProperty("paints").EnumerateArray()
                .Where(p => p.TryGetProperty("receivedAtMs", out var r) && r.ValueKind == JsonValueKind.Number && p.TryGetProperty("paintedAtMs", out _)
                    && p.GetProperty("kind").GetString() == "provisional")
                .Select(p => (Received: p.GetProperty("receivedAtMs").GetDouble(), Scored: p.GetProperty("scoredAtMs").GetDouble(), Painted: p.GetProperty("paintedAtMs").GetDouble()))
                .ToList();
            if (paints.Count == 0) { throw new InvalidOperationException("the overlay painted no live provisional score in the window; try more --seconds."); }
            var first = paints.Min(p => p.Received);
            var warm = paints.Where(p => p.Received < first + (warmUpSeconds * 1000.0)).ToList();
            var steady = paints.Except(warm).ToList();
            if (steady.Count > 0)
            {
                Console.WriteLine(string.Create(inv, $"after the first {warmUpSeconds} s:"));
                Report("chunk -> overlay repainted", [.. steady.Select(p => p.Painted - p.Received)], targetMs);
                Report("  chunk -> scored (ingest + scorer)", [.. steady.Select(p => p.Scored - p.Received)], null);
                Report("  scored -> painted (hub + page)", [.. steady.Select(p => p.Painted - p.Scored)], null);
            }
            if (warm.Count > 0)
            {
                Console.WriteLine(string.Create(inv, $"first {warmUpSeconds} s (process and browser warming up):"));
                Report("chunk -> overlay repainted", [.. warm.Select(p => p.Painted - p.Received)], null);
            }
            return 0;
        }
        finally
        {
            if (!demoProcess.HasExited) { demoProcess.Kill(entireProcessTree: true); }
        }
    }

    private static void Report(string what, double[] ms, double? targetMs)
    {
        Array.Sort(ms);
        double At(double q) => ms[Math.Min(ms.Length - 1, (int)Math.Ceiling(q * ms.Length) - 1)];
        var verdict = targetMs is { } t ? (At(0.99) <= t ? $"  (target p99 <= {t} ms: met)" : $"  (target p99 <= {t} ms: NOT met)") : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{what,-38} n {ms.Length,4}  p50 {At(0.5),7:F0} ms  p99 {At(0.99),7:F0} ms  max {ms[^1],7:F0} ms{verdict}"));
    }
}
