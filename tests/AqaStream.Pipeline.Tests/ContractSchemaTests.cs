using AqaStream.Pipeline.Contracts;
using AqaStream.Scoring.Data;
using System.Text.Json.Nodes;
using Json.Schema;
using Xunit;

namespace AqaStream.Pipeline.Tests;

/// <summary>Serialised messages against schemas/: both ways (every property the code writes is in the schema and
/// every schema property is written by the code), so code and schemas cannot drift.</summary>
public class ContractSchemaTests
{
    private static readonly DateTimeOffset s_when = new(2026, 3, 14, 18, 30, 5, 250, TimeSpan.Zero);

    /// <summary>One message of each contract with every optional field set.</summary>
    public static TheoryData<string, object> FullMessages() => new()
    {
        { "performance-started", new PerformanceStarted("p-17", "A. Skater", "ladies-singles", "short-program", ScoreTarget.TES, s_when, "worlds-2026", "NOR") },
        { "performance-ended", new PerformanceEnded("p-17", s_when, 136) },
        { "clip-features", new ClipFeatures("p-17", 3, 3.84, 5.12, [0.5f, -1.25f, 3f], s_when) },
        { "clip-thumbnail", new ClipThumbnail("p-17", 3, [0x89, 0x50, 0x4E, 0x47]) },
        { "video-chunk", new VideoChunk("cam-1", "p-17", 9, s_when, 2.0, "mpegts", "h264", PayloadRef: "file:///chunks/p-17/9.ts") },
        { "video-chunk", new VideoChunk("cam-1", "p-17", 10, s_when, 2.0, "cmaf", "h264", Payload: [0x47, 0x40, 0x00], InitSegment: [0, 0, 0, 8, 0x66, 0x74, 0x79, 0x70]) },
        { "clip-scored", new ClipScored(new ClipScore("p-17", 3, 3.84, 5.12, 0.25, 7.5, 0.975, [new AttendedClip(3, 0.5), new AttendedClip(1, 0.25)], s_when, Deduction: -0.9),
            new ProvisionalScore("p-17", 4, 31.5, ScoreTarget.PCS, "fisv-pcs", "0123abcd", s_when, [2], ReceivedAt: s_when)) },
        { "clip-scored", new ClipScored(null, new ProvisionalScore("p-17", 4, 31.5, ScoreTarget.PCS, "fisv-pcs", "0123abcd", s_when, [2], true, CloseReason.IdleTimeout,
            [new ClipContribution(0, 0.5, 30, 15), new ClipContribution(1, 0.5, 33, 13.5, Deduction: -3)], s_when)) },
        { "dead-letter", new DeadLetter("aqa.clip-features", "p-17", "clip 3: feature value 2 is NaN", "{}", s_when) },
    };

    private static JsonSchema Schema(string name)
    {
        var path = Path.Combine(RepositoryRoot.Path, "schemas", name + ".schema.json");
        return JsonSchema.FromText(File.ReadAllText(path));
    }

    private static JsonObject Serialise(object message) =>
        JsonNode.Parse(message is PerformanceMessage m ? MessageJson.Serialize(m) : MessageJson.Serialize(message))!.AsObject();

    private static readonly EvaluationOptions s_evaluation = new() { OutputFormat = OutputFormat.List, RequireFormatValidation = true };

    private static bool IsValid(JsonObject json, JsonSchema schema, out IList<string> errors)
    {
        var result = schema.Evaluate(json, s_evaluation);
        errors = [.. result.Details.Where(d => d.Errors is not null).SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Value}"))];
        return result.IsValid;
    }

    private static bool IsValid(JsonObject json, JsonSchema schema) => IsValid(json, schema, out _);

    private static IReadOnlyDictionary<string, JsonSchema> PropertiesOf(JsonSchema schema) =>
        schema.GetKeyword<PropertiesKeyword>()?.Properties ?? new Dictionary<string, JsonSchema>();

    private static IReadOnlyList<string> RequiredOf(JsonSchema schema) =>
        schema.GetKeyword<RequiredKeyword>()?.Properties ?? [];

    // The object schema a property holds: itself, or its array's items ("[]" in a path).
    private static (JsonSchema Schema, string Suffix)? Nested(JsonSchema property) =>
        PropertiesOf(property).Count > 0 ? (property, "")
        : property.GetKeyword<ItemsKeyword>()?.SingleSchema is { } items && PropertiesOf(items).Count > 0 ? (items, "[]")
        : null;

    /// <summary>Every property the schema declares, at every level, as a path ("clip.topAttended[].attention").</summary>
    private static IEnumerable<string> DeclaredPaths(JsonSchema schema, string prefix = "")
    {
        foreach (var (name, property) in PropertiesOf(schema))
        {
            var path = prefix + name;
            yield return path;
            if (Nested(property) is { } n)
            {
                foreach (var inner in DeclaredPaths(n.Schema, path + n.Suffix + ".")) { yield return inner; }
            }
        }
    }

    /// <summary>Every property written, at every level, as a path.</summary>
    private static IEnumerable<string> WrittenPaths(JsonObject json, string prefix = "")
    {
        foreach (var (name, value) in json)
        {
            var path = prefix + name;
            yield return path;
            var objects = value switch
            {
                JsonObject o => [(o, "")],
                JsonArray a => a.OfType<JsonObject>().Select(o => (o, "[]")).ToList(),
                _ => new List<(JsonObject, string)>(),
            };
            foreach (var (o, suffix) in objects)
            {
                foreach (var inner in WrittenPaths(o, path + suffix + ".")) { yield return inner; }
            }
        }
    }

    /// <summary>Every required property, at every level: the path of the object that must hold it, and its name.</summary>
    private static IEnumerable<(string[] Parent, string Name)> RequiredPaths(JsonSchema schema, string[] parent)
    {
        foreach (var name in RequiredOf(schema)) { yield return (parent, name); }
        foreach (var (name, property) in PropertiesOf(schema))
        {
            if (Nested(property) is not { } n) { continue; }
            string[] path = n.Suffix.Length == 0 ? [.. parent, name] : [.. parent, name, n.Suffix];
            foreach (var inner in RequiredPaths(n.Schema, path)) { yield return inner; }
        }
    }

    // The object at a path ("[]" takes an array's first element); null where the message has none.
    private static JsonObject? At(JsonObject json, string[] path)
    {
        JsonNode? node = json;
        foreach (var segment in path)
        {
            node = segment == "[]" ? (node as JsonArray)?.FirstOrDefault() : (node as JsonObject)?[segment];
        }
        return node as JsonObject;
    }

    [Theory]
    [MemberData(nameof(FullMessages))]
    public void Serialised_ValidatesAgainstItsSchema(string schema, object message)
    {
        var json = Serialise(message);
        Assert.True(IsValid(json, Schema(schema), out var errors), $"{schema}: {string.Join("; ", errors)}\n{json}");
    }

    [Fact]
    public void ArchivedClipFeatures_WithTheThumbnailTheyCarriedBefore_StillRead()
    {
        // Before thumbnails moved to aqa.performance-events, clip-features carried them: retained topics and archives
        // written then still replay (the old field is ignored).
        const string Old = """{"type":"clip-features","performanceId":"p-1","clipIndex":2,"start":2.56,"end":3.84,"vector":[1,2],"thumbnail":"iVBORw=="}""";
        var clip = Assert.IsType<ClipFeatures>(MessageJson.Deserialize<PerformanceMessage>(Old));
        Assert.Equal(("p-1", 2), (clip.PerformanceId, clip.ClipIndex));
        Assert.Equal([1f, 2f], clip.Vector);
    }

    [Fact]
    public void SchemaProperties_AreExactlyTheSerialisedOnes_AtEveryLevel()
    {
        var rows = FullMessages().Select(row => ((string)row[0], row[1])).ToArray();
        foreach (var schema in rows.Select(r => r.Item1).Distinct())
        {
            var written = rows.Where(r => r.Item1 == schema)
                .SelectMany(r => WrittenPaths(Serialise(r.Item2))).Distinct().Order().ToArray();
            var declared = DeclaredPaths(Schema(schema)).Order().ToArray();
            Assert.Equal(declared, written);
        }
        var files = Directory.GetFiles(Path.Combine(RepositoryRoot.Path, "schemas"), "*.schema.json").Select(f => Path.GetFileName(f)[..^".schema.json".Length]);
        Assert.Equal(files.Order(), rows.Select(r => r.Item1).Distinct().Order());
    }

    [Theory]
    [MemberData(nameof(FullMessages))]
    public void RequiredProperty_Missing_FailsSchema(string schema, object message)
    {
        var s = Schema(schema);
        Assert.NotEmpty(RequiredOf(s));
        var checkedAny = false;
        foreach (var (parent, required) in RequiredPaths(s, []))
        {
            var json = Serialise(message);
            if (At(json, parent) is not { } holder) { continue; }   // an optional part this message leaves out
            var where = string.Join(".", [.. parent, required]);
            Assert.True(holder.Remove(required), $"{schema}: '{where}' was not written");
            Assert.False(IsValid(json, s), $"{schema} without '{where}' should not validate");
            checkedAny = true;
        }
        Assert.True(checkedAny);
    }

    [Fact]
    public void ClipScored_WithAClipOrAlone_ReadsBackAsWritten()
    {
        var rows = FullMessages().Select(row => row[1]).OfType<ClipScored>().ToList();
        Assert.Contains(rows, r => r.Clip is null);   // the final: the provisional alone, "clip" not written
        foreach (var scored in rows)
        {
            var json = MessageJson.Serialize(scored);
            var back = MessageJson.Deserialize<ClipScored>(json);
            Assert.Equal(json, MessageJson.Serialize(back));
            Assert.Equal((scored.Clip?.ClipIndex, scored.Provisional.ClipsSeen, scored.Final), (back.Clip?.ClipIndex, back.Provisional.ClipsSeen, back.Final));
        }
        // Without its provisional it is not a ClipScored: the reader gets a clear error, not a message with a null inside.
        var e = Assert.Throws<MessageFormatException>(() => MessageJson.Deserialize<ClipScored>("""{"clip":null}"""));
        Assert.Contains("provisional", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PerformanceMessages_RoundTripThroughTheirTypeDiscriminator()
    {
        foreach (var (_, message) in FullMessages().Select(row => ((string)row[0], row[1])))
        {
            if (message is not PerformanceMessage m) { continue; }
            var back = MessageJson.Deserialize<PerformanceMessage>(MessageJson.Serialize(m));
            Assert.IsType(m.GetType(), back);
            Assert.Equal(MessageJson.Serialize(m), MessageJson.Serialize(back));
        }
    }

    [Fact]
    public void VideoChunk_BothPayloadAndRef_FailsSchema()
    {
        var chunk = new VideoChunk("cam-1", "p-1", 0, s_when, 2, "mpegts", "h264", [1, 2, 3], "file:///x.ts");
        Assert.False(IsValid(Serialise(chunk), Schema("video-chunk")));
        Assert.True(IsValid(Serialise(chunk with { PayloadRef = null }), Schema("video-chunk")));
    }

    [Theory]
    [InlineData("{\"type\":\"clip-features\",\"performanceId\":\"p\",\"clipIndex\":\"three\",\"start\":0,\"end\":1,\"vector\":[1]}", "clipIndex")]
    [InlineData("{\"type\":\"no-such-message\",\"performanceId\":\"p\"}", "no-such-message")]
    [InlineData("{\"type\":\"performance-ended\"}", "performanceId")]
    [InlineData("not json", "not a valid")]
    public void Malformed_Json_ClearError(string json, string mentions)
    {
        var e = Assert.Throws<MessageFormatException>(() => MessageJson.Deserialize<PerformanceMessage>(json));
        Assert.Contains(mentions, e.Message, StringComparison.Ordinal);
    }
}
