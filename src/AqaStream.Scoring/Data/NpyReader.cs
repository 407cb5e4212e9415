using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace AqaStream.Scoring.Data;

/// <summary>A 2-D float matrix read from a NumPy <c>.npy</c> file, cast to float32.</summary>
public sealed record NpyMatrix(float[] Data, int Rows, int Columns);

/// <summary>
/// Reads NumPy <c>.npy</c> files (format versions 1–3) holding a C-order 2-D array of little-endian
/// float16 (<c>&lt;f2</c>) or float32 (<c>&lt;f4</c>): the Fis-V clip features.
/// </summary>
public static partial class NpyReader
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Reads a file; throws <see cref="DataFormatException"/> naming the file and the fault.</summary>
    public static NpyMatrix ReadFile(string path)
    {
        return Parse(DataFiles.ReadAllBytes(path, "features"), path);
    }

    /// <summary>Parses the bytes of a <c>.npy</c> file; <paramref name="source"/> names it in errors.</summary>
    public static NpyMatrix Parse(ReadOnlySpan<byte> bytes, string source)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
        {
            throw new DataFormatException($"{source}: not a NumPy .npy file (wrong magic bytes).");
        }
        var major = bytes[6];
        int headerLength, headerStart;
        switch (major)
        {
            case 1:
                headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
                headerStart = 10;
                break;
            case 2 or 3:
                if (bytes.Length < 12) { throw new DataFormatException($"{source}: truncated .npy header."); }
                headerLength = checked((int)BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
                headerStart = 12;
                break;
            default:
                throw new DataFormatException($"{source}: unsupported .npy format version {major}.");
        }
        if (headerStart + headerLength > bytes.Length)
        {
            throw new DataFormatException($"{source}: truncated .npy header.");
        }
        var header = Encoding.Latin1.GetString(bytes.Slice(headerStart, headerLength));
        var descr = DescrPattern().Match(header);
        var order = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !order.Success || !shape.Success)
        {
            throw new DataFormatException($"{source}: malformed .npy header '{header.Trim()}'.");
        }
        if (order.Groups[1].Value == "True")
        {
            throw new DataFormatException($"{source}: Fortran-order arrays are not supported; save with C order.");
        }
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray();
        if (dims.Length != 2)
        {
            throw new DataFormatException($"{source}: expected a 2-D array (clips × features), found shape ({string.Join(", ", dims)}).");
        }
        var itemSize = descr.Groups[1].Value switch
        {
            "<f2" => 2,
            "<f4" => 4,
            var other => throw new DataFormatException($"{source}: dtype '{other}' is not supported; expected float16 '<f2' or float32 '<f4'."),
        };
        var count = checked(dims[0] * dims[1]);
        var payload = bytes[(headerStart + headerLength)..];
        if (payload.Length < (long)count * itemSize)
        {
            throw new DataFormatException($"{source}: truncated: shape ({dims[0]}, {dims[1]}) needs {(long)count * itemSize} data bytes, file has {payload.Length}.");
        }
        var data = new float[count];
        if (itemSize == 2)
        {
            for (var i = 0; i < count; i++)
            {
                data[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(payload[(2 * i)..]);
            }
        }
        else
        {
            for (var i = 0; i < count; i++)
            {
                data[i] = BinaryPrimitives.ReadSingleLittleEndian(payload[(4 * i)..]);
            }
        }
        return new NpyMatrix(data, dims[0], dims[1]);
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
