using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AqaStream.Scoring.Data;

namespace AqaStream.Scoring.Checkpoints;

/// <summary>One named float32 tensor of a safetensors file.</summary>
public sealed record NamedTensor(string Name, float[] Data, int[] Shape);

/// <summary>The content of a safetensors file: tensors by name and the string metadata.</summary>
public sealed record SafeTensorsFile(IReadOnlyDictionary<string, NamedTensor> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>
/// The Hugging Face safetensors format: 8-byte little-endian header length, a JSON header mapping each name to
/// dtype, shape and [begin, end) byte offsets (plus optional <c>__metadata__</c> strings), then raw little-endian data.
/// F32 is written; F32, F16 and BF16 are read (as float32).
/// </summary>
public static class SafeTensors
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100_000_000;

    /// <summary>Writes tensors (in the given order) and metadata.</summary>
    public static void Write(string path, IEnumerable<NamedTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) { meta[k] = v; }
            header[MetadataKey] = meta;
        }
        long offset = 0;
        foreach (var t in list)
        {
            var bytes = (long)t.Data.Length * 4;
            header[t.Name] = new JsonObject
            {
                ["dtype"] = "F32",
                ["shape"] = new JsonArray(t.Shape.Select(s => (JsonNode)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        var padded = (json.Length + 7) / 8 * 8;
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) { Directory.CreateDirectory(dir); }
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write))
        {
            Span<byte> len = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)padded);
            fs.Write(len);
            fs.Write(json);
            for (var i = json.Length; i < padded; i++) { fs.WriteByte((byte)' '); }
            var buffer = new byte[1 << 16];
            foreach (var t in list)
            {
                for (var start = 0; start < t.Data.Length; start += buffer.Length / 4)
                {
                    var n = Math.Min(buffer.Length / 4, t.Data.Length - start);
                    for (var i = 0; i < n; i++) { BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), t.Data[start + i]); }
                    fs.Write(buffer, 0, 4 * n);
                }
            }
        }
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Reads a file; a malformed one is a <see cref="DataFormatException"/> naming it and the fault.</summary>
    public static SafeTensorsFile Read(string path)
    {
        var bytes = DataFiles.ReadAllBytes(path, "checkpoint");
        if (bytes.Length < 8) { throw new DataFormatException($"{path}: not a safetensors file (shorter than its 8-byte header length)."); }
        var headerLen = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLen > MaxHeaderBytes || 8 + (long)headerLen > bytes.Length)
        {
            throw new DataFormatException($"{path}: not a safetensors file (header length {headerLen} does not fit the file).");
        }
        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLen))?.AsObject() ?? throw new JsonException("empty header");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new DataFormatException($"{path}: safetensors header is not valid JSON ({e.Message}).", e);
        }
        var dataStart = 8 + (int)headerLen;
        var dataLength = bytes.Length - dataStart;
        var tensors = new Dictionary<string, NamedTensor>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (name, node) in header)
        {
            if (name == MetadataKey)
            {
                foreach (var (k, v) in node?.AsObject() ?? [])
                {
                    metadata[k] = v?.GetValue<string>() ?? "";
                }
                continue;
            }
            try
            {
                var entry = node!.AsObject();
                var dtype = entry["dtype"]!.GetValue<string>();
                var shape = entry["shape"]!.AsArray().Select(s => s!.GetValue<int>()).ToArray();
                var offs = entry["data_offsets"]!.AsArray().Select(s => s!.GetValue<long>()).ToArray();
                var count = shape.Aggregate(1L, (a, s) => a * s);
                var size = dtype switch
                {
                    "F32" => 4,
                    "F16" or "BF16" => 2,
                    _ => throw new DataFormatException($"{path}: tensor '{name}' has dtype {dtype}; only F32, F16 and BF16 are supported."),
                };
                if (offs.Length != 2 || offs[0] < 0 || offs[1] > dataLength || offs[1] - offs[0] != count * size)
                {
                    throw new DataFormatException($"{path}: tensor '{name}' offsets [{string.Join(", ", offs)}] do not match shape [{string.Join(", ", shape)}] {dtype} within {dataLength} data bytes (truncated file?).");
                }
                var data = new float[count];
                var span = bytes.AsSpan(dataStart + (int)offs[0]);
                for (var i = 0; i < count; i++)
                {
                    data[i] = dtype switch
                    {
                        "F32" => BinaryPrimitives.ReadSingleLittleEndian(span[(4 * i)..]),
                        "F16" => (float)BinaryPrimitives.ReadHalfLittleEndian(span[(2 * i)..]),
                        _ => BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(span[(2 * i)..]) << 16),
                    };
                }
                tensors[name] = new NamedTensor(name, data, shape);
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new DataFormatException($"{path}: malformed header entry for tensor '{name}'.", e);
            }
        }
        return new SafeTensorsFile(tensors, metadata);
    }
}
