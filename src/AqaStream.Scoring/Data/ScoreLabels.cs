using System.Globalization;

namespace AqaStream.Scoring.Data;

/// <summary>Which judges' score a model learns.</summary>
public enum ScoreTarget
{
    /// <summary>Technical element score (difficulty × execution of the elements).</summary>
    TES,

    /// <summary>Program component score (skating skills, composition, ...).</summary>
    PCS,
}

/// <summary>One performance's judged scores (a line of Fis-V's <c>train.txt</c>: <c>id TES PCS deductions</c>); the
/// deductions are null where the file has no deductions column (never read as 0: no deduction is a judged value).</summary>
public sealed record PerformanceLabel(string Id, float Tes, float Pcs, float? Deductions)
{
    /// <summary>The score of the chosen target.</summary>
    public float Score(ScoreTarget target) => target == ScoreTarget.TES ? Tes : Pcs;
}

/// <summary>Reads labels files in the Fis-V format and id lists.</summary>
public static class ScoreLabels
{
    /// <summary>Parses <c>id TES PCS deductions</c> lines; blank lines are skipped; a bad line is an error naming file and line.</summary>
    public static IReadOnlyList<PerformanceLabel> ReadFile(string path)
    {
        var lines = ReadLines(path);
        var labels = new List<PerformanceLabel>(lines.Length);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0) { continue; }
            var f = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 3 || f.Length > 4 || !TryFloat(f[1], out var tes) || !TryFloat(f[2], out var pcs)
                || !TryFloat(f.Length == 4 ? f[3] : "0", out var ded))
            {
                throw new DataFormatException($"{path}:{i + 1}: expected 'id TES PCS [deductions]' with numbers, got '{line}'.");
            }
            if (ded < 0)
            {
                throw new DataFormatException($"{path}:{i + 1}: deductions {f[3]} is negative; the column holds the points deducted (0 or more), got '{line}'.");
            }
            if (!seen.Add(f[0]))
            {
                throw new DataFormatException($"{path}:{i + 1}: id '{f[0]}' appears twice.");
            }
            labels.Add(new PerformanceLabel(f[0], tes, pcs, f.Length == 4 ? ded : null));
        }
        if (labels.Count == 0)
        {
            throw new DataFormatException($"{path}: no labels found.");
        }
        return labels;
    }

    /// <summary>Reads one id per line (the first field), e.g. Fis-V's <c>test_ids.txt</c>.</summary>
    public static IReadOnlyList<string> ReadIds(string path)
    {
        var ids = ReadLines(path).Select(l => l.Trim()).Where(l => l.Length > 0)
            .Select(l => l.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0]).ToList();
        return ids.Count > 0 ? ids : throw new DataFormatException($"{path}: no ids found.");
    }

    /// <summary>Reads which competition each performance belongs to: <c>id competition name</c> per line (the name is the
    /// rest of the line); blank lines and <c>#</c> comments skipped; an id twice, or an id without a name, is an error
    /// naming the line.</summary>
    public static IReadOnlyDictionary<string, string> ReadCompetitions(string path)
    {
        var byId = new Dictionary<string, string>(StringComparer.Ordinal);
        var lines = DataFiles.ReadAllLines(path, "competitions");
        for (var n = 0; n < lines.Length; n++)
        {
            var line = lines[n].Trim();
            if (line.Length == 0 || line.StartsWith('#')) { continue; }
            var split = line.IndexOfAny([' ', '\t']);
            if (split < 0 || line[(split + 1)..].Trim() is not { Length: > 0 } name)
            {
                throw new DataFormatException($"{path}:{n + 1}: expected 'id competition name', got '{line}'.");
            }
            var id = line[..split];
            if (!byId.TryAdd(id, name)) { throw new DataFormatException($"{path}:{n + 1}: performance '{id}' is listed twice."); }
        }
        return byId;
    }

    private static string[] ReadLines(string path) => DataFiles.ReadAllLines(path, "labels");

    private static bool TryFloat(string s, out float value) =>
        float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value) && float.IsFinite(value);
}
