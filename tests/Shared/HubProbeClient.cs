using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace AqaStream.Tests.Shared;

/// <summary>
/// A minimal client of the SignalR JSON hub protocol over a WebSocket (handshake, invocations and their completions,
/// server pushes, pings), in the test tree only. Well-behaved clients in tests are the official .NET client
/// (Microsoft.AspNetCore.SignalR.Client); this one exists for what that client will not do: send malformed or
/// oversized frames, stop reading behind a small fixed receive buffer (a slow client), and open a thousand light
/// connections in one process for <c>./bench fanout</c> (linked into the bench project), where a full client per
/// overlay would measure the client rather than the server's fan-out.
/// </summary>
public sealed class HubProbeClient : IAsyncDisposable
{
    private const char RecordSeparator = '\u001e';
    private static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(10);

    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource<JsonElement>> _pending = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly Action<string, JsonElement, long>? _onPush;
    private TaskCompletionSource _resume = CreateResumed();
    private Task _receive = Task.CompletedTask;
    private Task _ping = Task.CompletedTask;
    private long _nextId;

    private HubProbeClient(Action<string, JsonElement, long>? onPush) => _onPush = onPush;

    /// <summary>Why the server closed the connection, when it did (a close message's error, or the socket's status).</summary>
    public string? CloseReason { get; private set; }

    /// <summary>Whether the connection is closed.</summary>
    public bool Closed => _socket.State != WebSocketState.Open || CloseReason is not null;

    /// <summary>Connects to <paramref name="hub"/> (http(s)://host/hub) and completes the handshake. Pushes go to
    /// <paramref name="onPush"/> (target, first argument, <see cref="Stopwatch.GetTimestamp"/> when received).</summary>
    /// <param name="hub">The hub's URL.</param>
    /// <param name="token">Bearer token (sent as access_token, as browsers do), or null.</param>
    /// <param name="onPush">Receives pushes.</param>
    /// <param name="receiveBufferBytes">A fixed, small TCP receive buffer (a slow client on a thin link); null: the
    /// system's auto-tuned one.</param>
    /// <param name="cancellationToken">Cancels connecting.</param>
    public static async Task<HubProbeClient> ConnectAsync(Uri hub, string? token, Action<string, JsonElement, long>? onPush = null,
        int? receiveBufferBytes = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hub);
        var client = new HubProbeClient(onPush);
        var ws = new UriBuilder(hub) { Scheme = hub.Scheme == "https" ? "wss" : "ws" };
        if (token is not null) { ws.Query = "access_token=" + Uri.EscapeDataString(token); }
        if (receiveBufferBytes is { } size)
        {
            using var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (context, ct) =>
                {
                    var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveBufferSize = size };
                    try
                    {
                        await socket.ConnectAsync(context.DnsEndPoint, ct).ConfigureAwait(false);
                        return new NetworkStream(socket, ownsSocket: true);
                    }
                    catch
                    {
                        socket.Dispose();
                        throw;
                    }
                },
            };
            using var invoker = new HttpMessageInvoker(handler, disposeHandler: false);
            await client._socket.ConnectAsync(ws.Uri, invoker, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await client._socket.ConnectAsync(ws.Uri, cancellationToken).ConfigureAwait(false);
        }
        await client.SendRawAsync("{\"protocol\":\"json\",\"version\":1}" + RecordSeparator, cancellationToken).ConfigureAwait(false);
        var handshake = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        client._pending["handshake"] = handshake;
        client._receive = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        var reply = await handshake.Task.WaitAsync(TimeSpan.FromSeconds(10), cancellationToken).ConfigureAwait(false);
        if (reply.TryGetProperty("error", out var error)) { throw new HubProbeException($"handshake refused: {error.GetString()}"); }
        client._ping = Task.Run(client.PingLoopAsync, CancellationToken.None);
        return client;
    }

    /// <summary>Calls a hub method; returns its result, or throws <see cref="HubProbeException"/> with the server's error.</summary>
    public async Task<JsonElement> InvokeAsync(string method, params object?[] arguments)
    {
        var id = Interlocked.Increment(ref _nextId).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var completion = new TaskCompletionSource<JsonElement>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = completion;
        await SendRawAsync(JsonSerializer.Serialize(new { type = 1, invocationId = id, target = method, arguments }) + RecordSeparator, _stop.Token).ConfigureAwait(false);
        return await completion.Task.WaitAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
    }

    /// <summary>Sends raw text as one WebSocket message (protocol tests: malformed or oversized messages).</summary>
    public Task SendRawAsync(string text, CancellationToken cancellationToken = default) => SendBytesAsync(Encoding.UTF8.GetBytes(text), cancellationToken);

    /// <summary>Stops reading from the socket (a slow client): the server's sends back up behind it.</summary>
    public void PauseReading()
    {
        if (_resume.Task.IsCompleted) { _resume = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously); }
    }

    /// <summary>Reads again.</summary>
    public void ResumeReading() => _resume.TrySetResult();

    /// <summary>Waits until the server closes the connection.</summary>
    public Task WaitClosedAsync(TimeSpan timeout) => _receive.WaitAsync(timeout);

    private async Task SendBytesAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(bytes, WebSocketMessageType.Text, true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task PingLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(PingInterval, _stop.Token).ConfigureAwait(false);
                if (_resume.Task.IsCompleted) { await SendRawAsync("{\"type\":6}" + RecordSeparator, _stop.Token).ConfigureAwait(false); }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            // closing
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        var text = new ArrayBufferWriter<byte>();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await _resume.Task.WaitAsync(_stop.Token).ConfigureAwait(false);
                var result = await _socket.ReceiveAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseReason ??= $"socket closed ({result.CloseStatus} {result.CloseStatusDescription})";
                    break;
                }
                var received = Stopwatch.GetTimestamp();
                text.Write(buffer.AsSpan(0, result.Count));
                // Split complete records (a record may span frames; a frame may hold several records).
                var span = text.WrittenSpan;
                int end;
                var consumed = 0;
                while ((end = span[consumed..].IndexOf((byte)RecordSeparator)) >= 0)
                {
                    Handle(span.Slice(consumed, end), received);
                    consumed += end + 1;
                }
                if (consumed > 0)
                {
                    var rest = span[consumed..].ToArray();
                    text.Clear();
                    text.Write(rest);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
            CloseReason ??= e is OperationCanceledException ? null : $"socket error: {e.Message}";
        }
        foreach (var p in _pending.Values) { p.TrySetException(new HubProbeException(CloseReason ?? "connection closed")); }
    }

    private void Handle(ReadOnlySpan<byte> record, long received)
    {
        using var doc = JsonDocument.Parse(record.ToArray());
        var root = doc.RootElement;
        if (!root.TryGetProperty("type", out var type))
        {
            if (_pending.TryRemove("handshake", out var h)) { h.TrySetResult(root.Clone()); }
            return;
        }
        switch (type.GetInt32())
        {
            case 1:   // invocation from the server: a push
                var target = root.GetProperty("target").GetString()!;
                var args = root.GetProperty("arguments");
                _onPush?.Invoke(target, args.GetArrayLength() > 0 ? args[0].Clone() : default, received);
                break;
            case 3:   // completion
                if (_pending.TryRemove(root.GetProperty("invocationId").GetString()!, out var c))
                {
                    if (root.TryGetProperty("error", out var error)) { c.TrySetException(new HubProbeException(error.GetString() ?? "error")); }
                    else { c.TrySetResult(root.TryGetProperty("result", out var r) ? r.Clone() : default); }
                }
                break;
            case 7:   // close
                CloseReason = root.TryGetProperty("error", out var reason) ? reason.GetString() : "closed by the server";
                break;
            default:
                break;   // pings and others
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        ResumeReading();
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // already gone
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_receive, _ping).ConfigureAwait(false);
        _socket.Dispose();
        _stop.Dispose();
        _sendLock.Dispose();
    }

    private static TaskCompletionSource CreateResumed()
    {
        var t = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        t.SetResult();
        return t;
    }
}

/// <summary>An error the hub returned, or a closed connection.</summary>
public sealed class HubProbeException : Exception
{
    /// <summary>Creates one.</summary>
    public HubProbeException(string message) : base(message) { }

    /// <summary>Creates one.</summary>
    public HubProbeException() { }

    /// <summary>Creates one.</summary>
    public HubProbeException(string message, Exception inner) : base(message, inner) { }
}
