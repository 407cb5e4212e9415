using System.Globalization;
using System.Text;
using AqaStream.Pipeline.Contracts;
using Confluent.Kafka;

namespace AqaStream.Kafka;

/// <summary>
/// Contracts on the wire. Values are the JSON of <c>schemas/</c> (UTF-8), with the message type in header
/// <c>aqa-type</c>; a video chunk is the exception: its bytes are the value and its metadata (the chunk's JSON without
/// the payload) is header <c>aqa-meta</c>, and a chunk over the size limit goes by reference (claim check). A dead letter is
/// the original bytes with the reason and origin in headers.
/// </summary>
public sealed class KafkaCodec(KafkaBusOptions options)
{
    /// <summary>Header: the message type (the <c>type</c> discriminator, or the contract name).</summary>
    public const string TypeHeader = "aqa-type";

    /// <summary>Header: a video chunk's metadata JSON.</summary>
    public const string MetaHeader = "aqa-meta";

    /// <summary>Header of a dead letter: why it was rejected.</summary>
    public const string ReasonHeader = "aqa-reason";

    /// <summary>Header of a dead letter: the topic it was read from.</summary>
    public const string SourceTopicHeader = "aqa-source-topic";

    /// <summary>Header of a dead letter: partition/offset it was read from (when known).</summary>
    public const string SourceOffsetHeader = "aqa-source-offset";

    /// <summary>Header of a dead letter: when it was rejected (ISO 8601).</summary>
    public const string RejectedAtHeader = "aqa-rejected-at";

    /// <summary>The wire form of <paramref name="value"/>.</summary>
    public (byte[] Value, Headers Headers) Encode<T>(T value) where T : class
    {
        ArgumentNullException.ThrowIfNull(value);
        var headers = new Headers();
        byte[] bytes;
        switch (value)
        {
            case VideoChunk chunk:
                var payload = chunk.Payload;
                if (payload is not null && payload.Length > options.MaxMessageBytes)
                {
                    chunk = ClaimCheck(chunk, payload);
                    payload = null;
                }
                headers.Add(TypeHeader, Utf8(VideoChunk.TypeName));
                headers.Add(MetaHeader, Utf8(MessageJson.Serialize<PerformanceMessage>(chunk with { Payload = null })));
                bytes = payload ?? [];
                break;
            case DeadLetter dead:
                headers.Add(TypeHeader, Utf8("dead-letter"));
                headers.Add(ReasonHeader, Utf8(dead.Reason));
                headers.Add(SourceTopicHeader, Utf8(dead.SourceTopic));
                headers.Add(RejectedAtHeader, Utf8(dead.Timestamp.ToString("O", CultureInfo.InvariantCulture)));
                bytes = Encoding.UTF8.GetBytes(dead.Payload);
                break;
            case PerformanceMessage message:
                headers.Add(TypeHeader, Utf8(TypeOf(message)));
                bytes = Encoding.UTF8.GetBytes(MessageJson.Serialize(message));
                break;
            default:
                headers.Add(TypeHeader, Utf8(typeof(T).Name));
                bytes = Encoding.UTF8.GetBytes(MessageJson.Serialize(value));
                break;
        }
        if (bytes.Length > options.MaxMessageBytes)
        {
            throw new InvalidOperationException($"a {typeof(T).Name} of {bytes.Length} bytes is over Kafka:MaxMessageBytes ({options.MaxMessageBytes}).");
        }
        return (bytes, headers);
    }

    /// <summary>Reads a record back; <see cref="MessageFormatException"/> says what was wrong.</summary>
    public T Decode<T>(string topic, byte[]? value, Headers? headers, DateTimeOffset timestamp) where T : class
    {
        var type = Header(headers, TypeHeader);
        if (typeof(T) == typeof(DeadLetter))
        {
            return (T)(object)new DeadLetter(Header(headers, SourceTopicHeader) ?? topic, null, Header(headers, ReasonHeader) ?? "(no reason given)",
                Encoding.UTF8.GetString(value ?? []), timestamp);
        }
        if (type == VideoChunk.TypeName)
        {
            var meta = Header(headers, MetaHeader) ?? throw new MessageFormatException($"a {VideoChunk.TypeName} without its {MetaHeader} header.");
            if (MessageJson.Deserialize<PerformanceMessage>(meta) is not VideoChunk chunk)
            {
                throw new MessageFormatException($"the {MetaHeader} header of a {VideoChunk.TypeName} is not a video chunk.");
            }
            if (value is { Length: > 0 }) { chunk = chunk with { Payload = value }; }
            return chunk as T ?? throw new MessageFormatException($"a {VideoChunk.TypeName} on topic '{topic}', which carries {typeof(T).Name} messages.");
        }
        if (value is null || value.Length == 0) { throw new MessageFormatException("empty message value."); }
        string json;
        try
        {
            json = new UTF8Encoding(false, true).GetString(value);
        }
        catch (DecoderFallbackException e)
        {
            throw new MessageFormatException($"the value is not UTF-8 JSON: {e.Message}", e);
        }
        return MessageJson.Deserialize<T>(json);
    }

    private VideoChunk ClaimCheck(VideoChunk chunk, byte[] payload)
    {
        if (options.ClaimCheckDirectory is not { Length: > 0 } directory)
        {
            throw new InvalidOperationException($"chunk {chunk.SequenceNumber} of '{chunk.PerformanceId}' is {payload.Length} bytes, over Kafka:MaxMessageBytes "
                + $"({options.MaxMessageBytes}): raise the limit (and the topic's max.message.bytes) or set Kafka:ClaimCheckDirectory to send it by reference.");
        }
        var folder = Path.Combine(Path.GetFullPath(directory), Safe(chunk.PerformanceId));
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, string.Create(CultureInfo.InvariantCulture, $"{chunk.SequenceNumber:D6}.{Safe(chunk.Container)}"));
        File.WriteAllBytes(path, payload);
        return chunk with { Payload = null, PayloadRef = new Uri(path).AbsoluteUri };
    }

    private static string Safe(string name)
    {
        var chars = name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray();
        return chars.Length == 0 ? "_" : new string(chars);
    }

    private static string TypeOf(PerformanceMessage message) => message switch
    {
        PerformanceStarted => PerformanceStarted.TypeName,
        PerformanceEnded => PerformanceEnded.TypeName,
        ClipFeatures => ClipFeatures.TypeName,
        VideoChunk => VideoChunk.TypeName,
        ClipThumbnail => ClipThumbnail.TypeName,
        _ => message.GetType().Name,
    };

    internal static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s);

    internal static string? Header(Headers? headers, string name) =>
        headers is not null && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
