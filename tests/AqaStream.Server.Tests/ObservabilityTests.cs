using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using AqaStream.Tests.Shared;
using Microsoft.AspNetCore.SignalR.Client;
using Xunit;

namespace AqaStream.Server.Tests;

/// <summary>/metrics (Prometheus text of the AqaStream meter, through OpenTelemetry) and the live/ready health checks.</summary>
public sealed class ObservabilityTests
{
    private static double Sample(string metrics, string name)
    {
        var m = Regex.Match(metrics, $"^{Regex.Escape(name)}(\\{{[^}}]*\\}})? (?<v>[0-9.eE+-]+)", RegexOptions.Multiline);
        Assert.True(m.Success, $"{name} not in /metrics:\n{metrics}");
        return double.Parse(m.Groups["v"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task Metrics_CountPushesAndClients_HealthLiveAndReady()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true);
        using var http = new HttpClient { BaseAddress = server.Url };
        await server.StartedAsync("p1", "Ana Lee");
        await server.UntilAsync(b => b.Count == 1, "performance");
        var pushes = 0;
        await using (var client = await HubClients.ConnectAsync(server.Hub, LiveServer.OverlayKey, (_, _, _) => Interlocked.Increment(ref pushes)))
        {
            await client.InvokeAsync<JsonElement>("SubscribeAll");
            await server.ClipAsync("p1", 0, 1, 50, 50, DateTimeOffset.UtcNow);   // one push per clip (the clip with its provisional)
            await server.ClipAsync("p1", 1, 0.5, 60, 55, DateTimeOffset.UtcNow);
            var deadline = DateTime.UtcNow.AddSeconds(15);
            while (Volatile.Read(ref pushes) < 2 && DateTime.UtcNow < deadline) { await Task.Delay(10); }
            Assert.True(pushes >= 2, $"{pushes} pushes");
            // The exporter caches a scrape briefly; ask until this client's pushes are counted.
            string metrics;
            do
            {
                metrics = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative));
                if (Sample(metrics, "aqa_delivery_pushes_total") >= 2) { break; }
                await Task.Delay(200);
            }
            while (DateTime.UtcNow < deadline);
            Assert.True(Sample(metrics, "aqa_delivery_pushes_total") >= 2, metrics);
            Assert.True(Sample(metrics, "aqa_delivery_clients") >= 1, metrics);
        }

        var live = await http.GetAsync(new Uri("/health/live", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        var ready = await http.GetAsync(new Uri("/health/ready", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Ready_IsUnhealthy_WithoutAModel()
    {
        await using var server = await LiveServer.StartAsync(anonymousResults: true, withModel: false);
        using var http = new HttpClient { BaseAddress = server.Url };
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.GetAsync(new Uri("/health/ready", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(new Uri("/health/live", UriKind.Relative))).StatusCode);
    }
}
