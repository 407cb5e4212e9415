using System.Buffers.Binary;
using System.Text;
using AqaStream.Scoring.Data;
using Xunit;

namespace AqaStream.Scoring.Tests;

public class DataReaderTests
{
    internal static byte[] Npy(string descr, string shape, int dataBytes, Action<Span<byte>>? fill = null, byte version = 1)
    {
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}";
        var prefix = version == 1 ? 10 : 12;
        var total = (prefix + header.Length + 1 + 63) / 64 * 64;
        header = header.PadRight(total - prefix - 1) + "\n";
        var bytes = new byte[prefix + header.Length + dataBytes];
        new byte[] { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y' }.CopyTo(bytes, 0);
        bytes[6] = version;
        if (version == 1) { BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(8), (ushort)header.Length); }
        else { BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), (uint)header.Length); }
        Encoding.Latin1.GetBytes(header).CopyTo(bytes, prefix);
        fill?.Invoke(bytes.AsSpan(prefix + header.Length));
        return bytes;
    }

    [Fact]
    public void Npy_Float16AndFloat32_ReadAsFloat32()
    {
        var f2 = Npy("<f2", "2, 3", 12, s => { for (var i = 0; i < 6; i++) { BinaryPrimitives.WriteHalfLittleEndian(s[(2 * i)..], (Half)(i * 0.5f)); } });
        var m = NpyReader.Parse(f2, "a.npy");
        Assert.Equal((2, 3), (m.Rows, m.Columns));
        Assert.Equal(new[] { 0f, 0.5f, 1f, 1.5f, 2f, 2.5f }, m.Data);
        var f4 = Npy("<f4", "1, 2", 8, s => { BinaryPrimitives.WriteSingleLittleEndian(s, 3.25f); BinaryPrimitives.WriteSingleLittleEndian(s[4..], -1f); }, version: 2);
        Assert.Equal(new[] { 3.25f, -1f }, NpyReader.Parse(f4, "b.npy").Data);
    }

    [Fact]
    public void Npy_RealFisVFile_HasExpectedShape()
    {
        var path = Path.Combine(RepositoryRoot.SharedDirectory, "datasets", "fis-v", "features", "1.npy");
        Assert.True(File.Exists(path), $"the Fis-V features are expected at {path}");
        var m = NpyReader.ReadFile(path);
        Assert.Equal(1024, m.Columns);
        Assert.InRange(m.Rows, 124, 302);
        Assert.All(m.Data.Take(5000), v => Assert.InRange(v, -5f, 5f));
    }

    [Theory]
    [InlineData("magic", "wrong magic")]
    [InlineData("dtype", "dtype '<i8'")]
    [InlineData("rank", "expected a 2-D array")]
    [InlineData("truncated", "truncated")]
    [InlineData("header", "malformed .npy header")]
    public void Npy_Malformed_ErrorNamesFileAndFault(string fault, string expected)
    {
        var bytes = fault switch
        {
            "magic" => Encoding.ASCII.GetBytes("PK\x03\x04 not numpy at all"),
            "dtype" => Npy("<i8", "2, 2", 32),
            "rank" => Npy("<f2", "2, 2, 2", 16),
            "truncated" => Npy("<f2", "4, 1024", 100),
            _ => Npy("<f2", "2, 2", 8).Select(b => b == (byte)'s' ? (byte)'x' : b).ToArray(),
        };
        var e = Assert.Throws<DataFormatException>(() => NpyReader.Parse(bytes, "features/7.npy"));
        Assert.StartsWith("features/7.npy: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Labels_FisVFormat_ParsesScoresByTarget()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("l.txt"), "1 28.71 29.36 1\n\n3 28.79 27.89 0\n");
        var labels = ScoreLabels.ReadFile(dir.File("l.txt"));
        Assert.Equal(2, labels.Count);
        Assert.Equal(28.79f, labels[1].Score(ScoreTarget.TES));
        Assert.Equal(29.36f, labels[0].Score(ScoreTarget.PCS));
        Assert.Equal(1f, labels[0].Deductions);
        Assert.Equal(0f, labels[1].Deductions);
        // Without the column the deductions are unknown, not zero.
        File.WriteAllText(dir.File("three.txt"), "1 28.71 29.36\n");
        Assert.Null(ScoreLabels.ReadFile(dir.File("three.txt"))[0].Deductions);
    }

    [Theory]
    [InlineData("1 28.71 29.36 1\n2 twenty 3 0\n", ":2: expected 'id TES PCS [deductions]'")]
    [InlineData("1 28.71\n", ":1: expected")]
    [InlineData("1 2 3 0\n1 2 3 0\n", ":2: id '1' appears twice")]
    [InlineData("1 NaN 3 0\n", ":1: expected")]
    [InlineData("1 28.71 29.36 1\n2 20 30 -1\n", ":2: deductions -1 is negative")]
    public void Labels_BadLine_ErrorNamesFileAndLine(string content, string expected)
    {
        using var dir = new TempDirectory();
        var path = dir.File("labels.txt");
        File.WriteAllText(path, content);
        var e = Assert.Throws<DataFormatException>(() => ScoreLabels.ReadFile(path));
        Assert.Contains(path + expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FeatureStore_MissingOrWrongWidth_ClearErrors()
    {
        using var dir = new TempDirectory();
        Assert.Contains("missing feature file for performance '9'", Assert.Throws<DataFormatException>(() => FeatureStore.Load(dir.Path, "9", 1024)).Message, StringComparison.Ordinal);
        File.WriteAllBytes(dir.File("5.npy"), Npy("<f4", "1, 2", 8));
        Assert.Contains("features are 2 wide, the model expects 1024", Assert.Throws<DataFormatException>(() => FeatureStore.Load(dir.Path, "5", 1024)).Message, StringComparison.Ordinal);
        File.WriteAllBytes(dir.File("6.npy"), Npy("<f4", "1, 2", 8, s => BinaryPrimitives.WriteSingleLittleEndian(s, float.NaN)));
        Assert.Contains("NaN", Assert.Throws<DataFormatException>(() => FeatureStore.Load(dir.Path, "6", 2)).Message, StringComparison.Ordinal);
    }
}
