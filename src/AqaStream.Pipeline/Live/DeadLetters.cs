using System.Reactive.Concurrency;
using System.Text.Json;
using System.Text.Json.Serialization;
using AqaStream.Pipeline.Contracts;

namespace AqaStream.Pipeline.Live;

/// <summary>Where rejected messages go, with their reason: counted, handed to <paramref name="sink"/> (the dead-letter
/// topic in a host, a list in tests), never thrown into the pipeline.</summary>
public sealed class DeadLetters(string sourceTopic, Action<DeadLetter> sink, PipelineCounters counters, IScheduler clock)
{
    // A rejected clip may hold NaN/Inf: keep them readable as "NaN" rather than failing to write the dead letter.
    private static readonly JsonSerializerOptions s_payloadJson = new(MessageJson.Options)
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Rejects <paramref name="message"/> because of <paramref name="reason"/>.</summary>
    /// <summary>Also told of every rejected message (a resumable stage: a rejected start must not hold its commit back).</summary>
    public Action<PerformanceMessage>? OnRejected { get; init; }

    public void Reject(PerformanceMessage message, string reason)
    {
        ArgumentNullException.ThrowIfNull(message);
        OnRejected?.Invoke(message);
        string payload;
        try
        {
            payload = JsonSerializer.Serialize(message, s_payloadJson);
        }
        catch (NotSupportedException)
        {
            payload = message.ToString();
        }
        Reject(message.PerformanceId, reason, payload);
    }

    /// <summary>Rejects a raw payload (one that did not even parse).</summary>
    public void Reject(string? key, string reason, string payload)
    {
        counters.OnDeadLetter(sourceTopic);
        sink(new DeadLetter(sourceTopic, key, reason, payload, clock.Now));
    }
}
