using System.Diagnostics;
using System.Text.Json;
using AqaStream.Server.Delivery;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;

namespace AqaStream.Server.Tests;

/// <summary>
/// Well-behaved hub clients are the official .NET SignalR client (Microsoft.AspNetCore.SignalR.Client) over a real
/// WebSocket, as an integrator's would be. The raw <see cref="Tests.Shared.HubProbeClient"/> is kept only for what
/// the official client cannot do on purpose: malformed frames and a client that stops reading.
/// </summary>
internal static class HubClients
{
    private static readonly string[] Pushes = [PushMethods.PerformanceStarted, PushMethods.ClipScored, PushMethods.ProvisionalScore,
        PushMethods.PerformanceEnded, PushMethods.PanelScore, PushMethods.Snapshot];

    /// <summary>A started connection to <paramref name="hub"/> with <paramref name="token"/> (null: none); every push goes
    /// to <paramref name="onPush"/> (target, payload, <see cref="Stopwatch.GetTimestamp"/> when received).</summary>
    public static async Task<HubConnection> ConnectAsync(Uri hub, string? token, Action<string, JsonElement, long>? onPush = null)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(hub, HttpTransportType.WebSockets, o =>
            {
                o.SkipNegotiation = true;
                if (token is not null) { o.AccessTokenProvider = () => Task.FromResult<string?>(token); }
            })
            .Build();
        if (onPush is not null)
        {
            foreach (var target in Pushes)
            {
                connection.On<JsonElement>(target, payload => onPush(target, payload, Stopwatch.GetTimestamp()));
            }
        }
        try
        {
            await connection.StartAsync();
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
        return connection;
    }
}
