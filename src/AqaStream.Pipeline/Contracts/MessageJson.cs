using System.Text.Json;
using System.Text.Json.Serialization;

namespace AqaStream.Pipeline.Contracts;

/// <summary>The one JSON form of every message on the bus (camelCase, enums as strings), matching schemas/.</summary>
public static class MessageJson
{
    /// <summary>Serializer options for all contracts.</summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter() },
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        AllowOutOfOrderMetadataProperties = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
    };

    /// <summary>Serialises a message.</summary>
    public static string Serialize<T>(T message) => JsonSerializer.Serialize(message, Options);

    /// <summary>Parses a message; a malformed one is a <see cref="MessageFormatException"/> saying what was wrong.</summary>
    public static T Deserialize<T>(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options)
                ?? throw new MessageFormatException($"expected a {typeof(T).Name} message, got null");
        }
        catch (JsonException e)
        {
            throw new MessageFormatException($"not a valid {typeof(T).Name} message: {e.Message}", e);
        }
        catch (NotSupportedException e)
        {
            throw new MessageFormatException($"not a valid {typeof(T).Name} message: {e.Message}", e);
        }
    }
}

/// <summary>A bus message that does not parse as its contract.</summary>
public sealed class MessageFormatException : Exception
{
    /// <summary>Creates one.</summary>
    public MessageFormatException(string message) : base(message) { }

    /// <summary>Creates one with its cause.</summary>
    public MessageFormatException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates one.</summary>
    public MessageFormatException() { }
}
