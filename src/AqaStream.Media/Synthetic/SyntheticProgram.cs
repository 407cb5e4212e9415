namespace AqaStream.Media.Synthetic;

/// <summary>Kinds of element a synthetic athlete performs.</summary>
public enum ElementKind
{
    /// <summary>Skating between elements: little difficulty.</summary>
    Glide,

    /// <summary>A jump: take-off, <see cref="SyntheticElement.Rotations"/> turns in the air, landing.</summary>
    Jump,

    /// <summary>A spin in place at <see cref="SyntheticElement.RevolutionsPerSecond"/>.</summary>
    Spin,

    /// <summary>A step sequence: fast footwork and arm work across the ice.</summary>
    Steps,
}

/// <summary>One element of a synthetic program, with its true difficulty and execution.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Start">Seconds from the start of the performance.</param>
/// <param name="Duration">Seconds.</param>
/// <param name="Rotations">Turns in the air (jumps).</param>
/// <param name="RevolutionsPerSecond">Rotation speed (spins).</param>
/// <param name="Difficulty">Base value: grows with rotations / rotation speed.</param>
/// <param name="Execution">Quality in [0, 1]: 1 = clean; low = wobble, stumbles; falls below <see cref="SyntheticProgram.FallBelow"/>.</param>
public sealed record SyntheticElement(ElementKind Kind, double Start, double Duration, int Rotations, double RevolutionsPerSecond, double Difficulty, double Execution)
{
    /// <summary>Seconds from the start to the end.</summary>
    public double End => Start + Duration;

    /// <summary>Whether the athlete falls on it.</summary>
    public bool Fall => Kind == ElementKind.Jump && Execution < SyntheticProgram.FallBelow;

    // Jump phases: take-off run-up, time in the air, landing (where a stumble or fall shows).
    internal const double TakeOff = 0.6;
    internal const double Landing = 0.9;

    internal double AirTime => 0.45 + (0.12 * Rotations);
}

/// <summary>
/// A synthetic performance: a seeded sequence of elements whose difficulty and execution are drawn from known
/// distributions, so the truth behind every frame is known. The panel's score is the difficulty-weighted mean
/// execution on a 0–100 scale, 100·∫d(t)e(t)dt / ∫d(t)dt: a weighted sum of per-moment execution with weights
/// proportional to base value, which is the form ŷ = Σ_q w_q s_q of the scorer (weights summing to 1).
/// </summary>
public sealed record SyntheticProgram(string PerformanceId, string Athlete, int Seed, double Skill, double DurationSeconds,
    IReadOnlyList<SyntheticElement> Elements, int CostumeU, int CostumeV)
{
    /// <summary>Jumps executed below this quality end in a fall.</summary>
    public const double FallBelow = 0.2;

    /// <summary>Difficulty of gliding between elements.</summary>
    public const double GlideDifficulty = 0.5;

    private static readonly string[] s_names = ["Ada", "Bea", "Cai", "Dan", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jo", "Kim", "Lea", "Max", "Nia", "Oto", "Pia", "Quin", "Rae", "Sol", "Tea"];
    private static readonly string[] s_surnames = ["Arvik", "Brenn", "Castel", "Dovic", "Eklund", "Ferrand", "Gale", "Holm", "Ivers", "Janak", "Kovar", "Lind", "Moreau", "Novak", "Orsi", "Pell"];

    private static readonly string[] s_nations = ["NOR", "CAN", "JPN", "ITA", "USA", "FRA", "KOR", "SWE", "GER", "FIN", "EST", "CZE"];

    /// <summary>Whom the athlete represents (a country code), drawn from the seed apart from the program itself.</summary>
    public string Nation => s_nations[(int)((uint)Seed % (uint)s_nations.Length)];

    /// <summary>Draws a program from <paramref name="seed"/>: 5–7 elements between glides, 18–32 s in all.</summary>
    public static SyntheticProgram Generate(int seed, string? performanceId = null)
    {
        var rng = new Random(seed);
        var skill = 0.25 + (0.75 * rng.NextDouble());
        var elements = new List<SyntheticElement>();
        var t = 0.0;
        var count = rng.Next(5, 8);
        for (var i = 0; i < count; i++)
        {
            var glide = 1.0 + (1.5 * rng.NextDouble());
            elements.Add(new SyntheticElement(ElementKind.Glide, t, glide, 0, 0, GlideDifficulty, GlideExecution(rng)));
            t += glide;
            var kind = rng.NextDouble() switch { < 0.5 => ElementKind.Jump, < 0.8 => ElementKind.Spin, _ => ElementKind.Steps };
            SyntheticElement e;
            switch (kind)
            {
                case ElementKind.Jump:
                    {
                        // Better skaters try more rotations.
                        var rotations = Math.Clamp((int)Math.Round(1 + (3 * skill * rng.NextDouble()) + (0.7 * rng.NextDouble())), 1, 4);
                        var difficulty = 1.5 + (1.6 * rotations);
                        var probe = new SyntheticElement(kind, t, 0, rotations, 0, difficulty, 0);
                        e = probe with { Duration = SyntheticElement.TakeOff + probe.AirTime + SyntheticElement.Landing, Execution = ElementExecution(rng, skill, difficulty) };
                        break;
                    }
                case ElementKind.Spin:
                    {
                        var rps = 0.8 + (2.2 * rng.NextDouble());
                        var difficulty = 1.0 + (1.5 * rps);
                        e = new SyntheticElement(kind, t, 2.5 + (1.5 * rng.NextDouble()), 0, rps, difficulty, ElementExecution(rng, skill, difficulty));
                        break;
                    }
                default:
                    {
                        var tempo = 1.5 + (1.5 * rng.NextDouble());
                        var difficulty = 1.0 + tempo;
                        e = new SyntheticElement(kind, t, 3.0, 0, tempo, difficulty, ElementExecution(rng, skill, difficulty));
                        break;
                    }
            }
            elements.Add(e);
            t = e.End;
        }
        var closing = 1.0 + rng.NextDouble();
        elements.Add(new SyntheticElement(ElementKind.Glide, t, closing, 0, 0, GlideDifficulty, GlideExecution(rng)));
        t += closing;
        var id = performanceId ?? $"synth-{seed}";
        var athlete = $"{s_names[rng.Next(s_names.Length)]} {s_surnames[rng.Next(s_surnames.Length)]}";
        return new SyntheticProgram(id, athlete, seed, skill, t, elements, rng.Next(40, 216), rng.Next(40, 216));
    }

    /// <summary>The element under way at <paramref name="seconds"/>.</summary>
    public SyntheticElement ElementAt(double seconds)
    {
        foreach (var e in Elements)
        {
            if (seconds < e.End) { return e; }
        }
        return Elements[^1];
    }

    /// <summary>Frames in the performance at <paramref name="framesPerSecond"/>.</summary>
    public int FrameCount(int framesPerSecond) => (int)Math.Round(DurationSeconds * framesPerSecond);

    /// <summary>The panel's score (0–100) sampled on the frame grid.</summary>
    public double JudgesScore(int framesPerSecond)
    {
        double num = 0, den = 0;
        for (var f = 0; f < FrameCount(framesPerSecond); f++)
        {
            var e = ElementAt((f + 0.5) / framesPerSecond);
            num += e.Difficulty * e.Execution;
            den += e.Difficulty;
        }
        return 100 * num / den;
    }

    /// <summary>Mean true difficulty and execution over frames [first, first + count).</summary>
    public (double Difficulty, double Execution) TruthOver(long first, int count, int framesPerSecond)
    {
        double d = 0, ex = 0;
        for (var f = first; f < first + count; f++)
        {
            var e = ElementAt((f + 0.5) / framesPerSecond);
            d += e.Difficulty;
            ex += e.Execution;
        }
        return (d / count, ex / count);
    }

    // Elements: around the athlete's skill, harder ones worse for weaker athletes, with element-to-element spread.
    private static double ElementExecution(Random rng, double skill, double difficulty) =>
        Clamp(skill + (0.2 * Normal(rng)) - (0.04 * (difficulty - 3) * (1 - skill)));

    // Skating between elements is easy to do cleanly whatever the athlete's level: an unweighted mean over clips would
    // be pulled up by it, the difficulty weighting is what keeps the score about the elements.
    private static double GlideExecution(Random rng) => Clamp(0.88 + (0.05 * Normal(rng)));

    private static double Clamp(double v) => Math.Clamp(v, 0.02, 1.0);

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
}
