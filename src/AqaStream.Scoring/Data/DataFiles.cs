namespace AqaStream.Scoring.Data;

/// <summary>Reads user-supplied files, turning I/O failures into <see cref="DataFormatException"/>s that name the file.</summary>
internal static class DataFiles
{
    public static byte[] ReadAllBytes(string path, string what) => Guard(path, what, () => File.ReadAllBytes(path));

    public static string[] ReadAllLines(string path, string what) => Guard(path, what, () => File.ReadAllLines(path));

    private static T Guard<T>(string path, string what, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataFormatException($"{path}: cannot read {what} ({e.Message}).", e);
        }
    }
}
