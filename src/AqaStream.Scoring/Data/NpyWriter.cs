using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace AqaStream.Scoring.Data;

/// <summary>Writes a 2-D float32 matrix as a NumPy <c>.npy</c> file (format 1.0, C order, <c>&lt;f4</c>).</summary>
public static class NpyWriter
{
    /// <summary>Writes rows × columns values.</summary>
    public static void Write(string path, ReadOnlySpan<float> data, int rows, int columns)
    {
        if (data.Length != rows * columns)
        {
            throw new ArgumentException($"{rows} × {columns} matrix needs {rows * columns} values, got {data.Length}.");
        }
        var header = string.Create(CultureInfo.InvariantCulture, $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}");
        // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64, as NumPy does.
        var padded = (10 + header.Length + 1 + 63) / 64 * 64;
        header = header.PadRight(padded - 10 - 1) + "\n";
        var bytes = new byte[padded + 4 * data.Length];
        bytes[0] = 0x93;
        "NUMPY"u8.CopyTo(bytes.AsSpan(1));
        bytes[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length);
        Encoding.Latin1.GetBytes(header, bytes.AsSpan(10));
        for (var i = 0; i < data.Length; i++) { BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(padded + 4 * i), data[i]); }
        File.WriteAllBytes(path, bytes);
    }
}
