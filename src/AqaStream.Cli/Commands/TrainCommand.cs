using System.CommandLine;
using System.Globalization;
using AqaStream.Scoring.Checkpoints;
using AqaStream.Scoring.Data;
using AqaStream.Scoring.Evaluation;
using AqaStream.Scoring.Model;
using AqaStream.Scoring.Torch.Methods;
using AqaStream.Scoring.Training;

namespace AqaStream.Cli.Commands;

/// <summary><c>aqa train</c>: trains the weight-score decoder on a Fis-V-style dataset and writes a checkpoint and card.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var dataset = new Option<DirectoryInfo>("--dataset") { Description = "Dataset directory holding features/{id}.npy and train.txt ('id TES PCS deductions').", Required = true };
        var target = new Option<ScoreTarget>("--target") { Description = "Score to learn: TES or PCS.", Required = true };
        var output = new Option<FileInfo>("--out") { Description = "Checkpoint to write (.safetensors); the card goes beside it as .card.json.", Required = true };
        var modelId = new Option<string?>("--model-id") { Description = "Id recorded in the card (default: the output file's name)." };
        var t = new TrainingOptions();
        var a = new DecoderOptions();
        var epochs = new Option<int>("--epochs") { Description = "Passes over the training split.", DefaultValueFactory = _ => t.Epochs };
        var batch = new Option<int>("--batch-size") { Description = "Performances per optimiser step.", DefaultValueFactory = _ => t.BatchSize };
        var lr = new Option<float>("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => t.LearningRate };
        var wd = new Option<float>("--weight-decay") { Description = "Adam L2 weight decay.", DefaultValueFactory = _ => t.WeightDecay };
        var schedule = new Option<LearningRateSchedule>("--lr-schedule") { Description = "Constant or Cosine (with warm-up).", DefaultValueFactory = _ => t.Schedule };
        var warmup = new Option<int>("--warmup-epochs") { Description = "Linear warm-up epochs for the cosine schedule.", DefaultValueFactory = _ => t.WarmupEpochs };
        var trainLength = new Option<int>("--train-length") { Description = "Random crop / pad length in clips for training sequences.", DefaultValueFactory = _ => t.TrainLength };
        var scale = new Option<float>("--score-scale") { Description = "Labels are divided by this while training (Fis-V: 43).", DefaultValueFactory = _ => t.ScoreScale };
        var noise = new Option<float>("--prediction-noise") { Description = "Std of Gaussian noise added to predictions inside the MSE (reference 0.05).", DefaultValueFactory = _ => t.PredictionNoiseStd };
        var folds = new Option<int>("--folds") { Description = "Number of folds train.txt is cut into after a seeded shuffle.", DefaultValueFactory = _ => t.Folds };
        var fold = new Option<int>("--val-fold") { Description = "Fold (0-based) held out as the validation split that picks the best epoch.", DefaultValueFactory = _ => t.ValidationFold };
        var patience = new Option<int>("--patience") { Description = "Stop after this many epochs without a better validation Spearman (0: never).", DefaultValueFactory = _ => t.Patience };
        var seed = new Option<int>("--seed") { Description = "Seed of initialisation, split, shuffling, crops and dropout.", DefaultValueFactory = _ => t.Seed };
        var modelDim = new Option<int>("--model-dim") { Description = "Decoder width d; below the feature width an input projection is added (reference: 1024, none).", DefaultValueFactory = _ => a.ModelDim };
        var layers = new Option<int>("--layers") { Description = "Decoder layers.", DefaultValueFactory = _ => a.Layers };
        var heads = new Option<int>("--heads") { Description = "Attention heads.", DefaultValueFactory = _ => a.Heads };
        var dropout = new Option<float>("--dropout") { Description = "Residual and FFN dropout.", DefaultValueFactory = _ => a.Dropout };
        var attDropout = new Option<float>("--attention-dropout") { Description = "Dropout on attention probabilities.", DefaultValueFactory = _ => a.AttentionDropout };
        var queryStd = new Option<float>("--query-std") { Description = "σ of the query initialisation N(0, σ²) (Fis-V 5).", DefaultValueFactory = _ => a.QueryInitStd };
        var queryInit = new Option<QueryInitialisation>("--query-init") { Description = "Learned (drawn once, then learned) or RedrawEachForward (the reference's behaviour).", DefaultValueFactory = _ => a.QueryInit };
        var maxQueries = new Option<int>("--max-queries") { Description = "Query positions: the longest performance (clips) the model can score.", DefaultValueFactory = _ => a.MaxQueries };
        var noMask = new Option<bool>("--no-mask-padding") { Description = "Attend to zero padding as the reference does (default: padded clips are masked)." };
        var causal = new Option<bool>("--causal") { Description = "Causal decoder: query q sees clips ≤ q and queries ≤ q (streaming mode)." };
        var localCross = new Option<bool>("--local-cross")
        {
            Description = "Clip-local cross-attention: query q reads clip q only, so each clip's weight and score come from that clip (with --layers 1, from nothing else). Not in the paper; see README, Interpretability.",
        };
        var attWeight = new Option<float>("--attention-loss-weight") { Description = "Weight of the attention loss.", DefaultValueFactory = _ => a.AttentionLossWeight };
        var threads = CommonOptions.Threads();
        var device = CommonOptions.Device();
        var method = new Option<string>("--method")
        {
            Description = $"Scoring method: {string.Join(", ", Methods)}.", DefaultValueFactory = _ => DecoderOptions.MethodName,
        };
        var lengthTerm = new Option<bool>("--length-term") { Description = "ridge-mean: add ln(clip count) as an unpenalised term." };
        var alphas = new Option<string?>("--alphas")
        {
            Description = $"ridge-mean, ridge-pos: penalties to choose from by inner {MeanPooledRidge.InnerFolds}-fold cross-validation (default {string.Join(",", MeanPooledRidge.DefaultAlphas)}).",
        };
        var motion = new Option<string>("--motion")
        {
            Description = "ridge-mean, ridge-pos, ridge-blend: the motion term, the mean change of each feature from one clip to the next, read beside the mean "
                + "with its own coefficients (each clip's score gains μ·|x_q − x_{q−1}|: still exact per-clip contributions). off, on, or auto (in or out, chosen with the penalty by the inner folds).",
            DefaultValueFactory = _ => "off",
        };
        var squash = new Option<string>("--squash")
        {
            Description = "ridge-mean, ridge-pos, ridge-blend: read each clip through tanh((x − c)/σ) per feature (c, σ: the training clips' mean and spread, saved with the model) "
                + "before pooling, so a few extreme values stop dominating a performance's mean; still exact per-clip contributions. off, on, or auto (chosen with the penalty by the inner folds; "
                + "ridge-blend: by ridge-pos's, and ridge-mean follows).",
            DefaultValueFactory = _ => "off",
        };
        var deductions = new Option<string>("--deductions")
        {
            Description = "ridge-pos, ridge-blend: the deduction term, a per-clip detector of what the judges deduct for (mostly falls), trained on the deductions column of "
                + "train.txt; its expected count is priced (points per deduction, never positive) by least squares on the inner folds' held-out predictions, and each clip adds "
                + "its share (still exact per-clip contributions). off or on.",
            DefaultValueFactory = _ => "off",
        };
        var refitAll = new Option<bool>("--refit-all")
        {
            Description = "ridge-mean, ridge-pos: after validating on the held-out fold, refit on every performance of train.txt with the chosen penalty (the card keeps the held-out figures).",
        };

        var s = new SequenceMethodOptions();
        var hidden = new Option<int>("--hidden") { Description = $"mlp-mean, gdlt, cofinal, gdlt-ws: trunk width after the per-clip projection (default {s.Hidden}).", DefaultValueFactory = _ => s.Hidden };
        var grades = new Option<int>("--grades") { Description = $"gdlt, cofinal, tpt, qgvl: grade prototypes / temporal parts / quality prompts (default {s.Grades}).", DefaultValueFactory = _ => s.Grades };
        var auxWeight = new Option<float>("--aux-weight")
        {
            Description = $"gdlt, cofinal, tpt, qgvl: weight of the auxiliary loss (grade triplet for gdlt and cofinal, part ranking + sparsity, prompt alignment; default {s.AuxiliaryWeight}).",
            DefaultValueFactory = _ => s.AuxiliaryWeight,
        };
        var localHeads = new Option<bool>("--local-heads")
        {
            Description = "gdlt-ws: the weight and score heads read each clip's projection alone (before the encoder layer), so a clip's weight and score depend on that clip only.",
        };
        var noRecalibrate = new Option<bool>("--no-recalibrate")
        {
            Description = "mlp-mean, gdlt, cofinal, tpt, qgvl, gdlt-ws: keep the trained score mapping (default: after the best epoch, a least-squares line y = a·ŷ + b, a > 0, of the judges' scores on the model's predictions over the validation split is folded into the mapping; ranks do not move).",
        };
        var companion = new Option<string>("--companion-weight")
        {
            Description = "ridge-mean, ridge-pos, ridge-blend and the sequence methods: learn the target plus this multiple of the other judged score (TES + W·PCS), "
                + "then map the predictions back to the target with a least-squares line on held-out predictions (the ridges' inner folds; the sequence methods' "
                + "validation split). The other score reads a performer's level with less noise; on Fis-V it lifts TES (README). 0: the target alone; "
                + "auto (the ridges): W from 0, 1, 2, 3, chosen with the penalty by the inner folds.",
            DefaultValueFactory = _ => "0",
        };
        var crossFit = new Option<int>("--cross-fit")
        {
            Description = "Sequence methods, alone or in a blend: train K models on the training split, one per inner fold (each selected and recalibrated on its own), "
                + "and save their average as one ensemble checkpoint (K times the training time; 1: one model).",
            DefaultValueFactory = _ => 1,
        };
        var prompts = new Option<FileInfo?>("--prompt-embeddings")
        {
            Description = "qgvl: a float32 .npy [grades, E] of quality-prompt text embeddings (e.g. CLIP's) that initialises the grade prototypes; without it they are learned from a random start.",
        };

        var cmd = new Command("train", $"Train a scorer (--method: {string.Join(", ", Methods)}); the best epoch on a validation split carved from train.txt is kept.")
        {
            dataset, target, output, modelId, method, epochs, batch, lr, wd, schedule, warmup, trainLength, scale, noise, folds, fold, patience, seed,
            modelDim, layers, heads, dropout, attDropout, queryStd, queryInit, maxQueries, noMask, causal, localCross, attWeight, threads,
            lengthTerm, alphas, motion, squash, deductions, refitAll, device, hidden, grades, auxWeight, prompts, localHeads, noRecalibrate, companion, crossFit,
        };
        Option[] sequenceOnly = [hidden, grades, auxWeight, prompts, localHeads, noRecalibrate];
        Option[] decoderOnly = [device, epochs, batch, lr, wd, schedule, warmup, trainLength, scale, noise, patience, modelDim, layers, heads, dropout, attDropout,
            queryStd, queryInit, maxQueries, noMask, causal, localCross, attWeight];
        Option[] ridgeOnly = [lengthTerm, alphas, motion, squash, deductions, refitAll];
        Option[] ridgeAndSequence = [companion];
        Option[] sequenceApplies = [epochs, batch, lr, wd, schedule, warmup, trainLength, patience, heads, dropout, hidden, grades, auxWeight, prompts, localHeads, noRecalibrate, device];
        cmd.SetAction(r => AqaApp.Guarded(() =>
        {
            var chosen = r.GetValue(method)!;
            if (r.GetValue(crossFit) < 1) { throw new ArgumentException($"--cross-fit {r.GetValue(crossFit)} must be at least 1 (1: one model)."); }
            if (!Methods.Contains(chosen) || r.GetValue(crossFit) > 1)
            {
                // A blend (A+B), a method with a companion suffix (-cW) or a cross-fit ensemble: the benchmark's methods, trained
                // on the training split and validated on the held-out fold.
                IReadOnlyList<string> parts;
                try { parts = BenchmarkCommand.Parts(chosen); }
                catch (ArgumentException e) when (e.Message.Contains("is not a method", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"--method '{chosen}' is not a method: choose one of {string.Join(", ", Methods)}, NAME-cW (companion weight W; auto for the ridges) or a blend A+B of them.", e);
                }
                catch (ArgumentException e) { throw new ArgumentException(e.Message.Replace("--methods: ", "--method ", StringComparison.Ordinal), e); }
                Option[] applies = [epochs, folds, fold, seed, crossFit, threads];
                var extra = cmd.Options.FirstOrDefault(o => o != dataset && o != target && o != output && o != modelId && o != method && !applies.Contains(o) && r.GetResult(o) is { Implicit: false });
                if (extra is not null) { throw new ArgumentException($"{extra.Name} does not apply to --method {chosen} (a blend, a -cW method or --cross-fit takes --epochs, --folds, --val-fold, --seed, --cross-fit, --threads)."); }
                if (r.GetValue(crossFit) > 1 && !parts.Any(BenchmarkCommand.IsSequence))
                {
                    throw new ArgumentException($"--cross-fit applies to the sequence methods ({string.Join(", ", SequenceMethodOptions.Methods)}, gdlt-ws-local), and {chosen} has none.");
                }
                EngineOptions.SetThreads(r.GetValue(threads));
                var epochCount = r.GetResult(epochs) is { Implicit: false } ? r.GetValue(epochs) : SequenceTrainer.DefaultEpochs;
                return TrainComposite(r.Required(dataset), r.GetValue(target), r.Required(output).FullName, r.GetValue(modelId), chosen, r.GetValue(crossFit), epochCount,
                    r.GetValue(folds), r.GetValue(fold), r.GetValue(seed));
            }
            var isSequence = SequenceMethodOptions.Methods.Contains(chosen);
            var isRidge = chosen is MeanPooledRidge.MethodName or PositionalRidge.MethodName or PositionalRidge.BlendMethodName;
            Option[] notForThis = isRidge ? [.. decoderOnly, .. sequenceOnly, .. (chosen != MeanPooledRidge.MethodName ? new Option[] { lengthTerm } : [deductions])]
                : isSequence ? [.. decoderOnly.Concat(ridgeOnly).Where(o => !sequenceApplies.Contains(o))]
                : [.. ridgeOnly, .. sequenceOnly, .. ridgeAndSequence];
            var notApplying = notForThis.FirstOrDefault(o => r.GetResult(o) is { Implicit: false });
            if (notApplying is not null) { throw new ArgumentException($"{notApplying.Name} does not apply to --method {chosen}."); }
            var companionText = r.GetValue(companion)!;
            var companionAuto = companionText == "auto";
            var companionWeight = 0f;
            if (!companionAuto && (!float.TryParse(companionText, NumberStyles.Float, CultureInfo.InvariantCulture, out companionWeight) || !(companionWeight >= 0) || !float.IsFinite(companionWeight)))
            {
                throw new ArgumentException($"--companion-weight {companionText} must be 0 or more, or auto.");
            }
            if (companionAuto && !isRidge) { throw new ArgumentException($"--companion-weight auto applies to the ridges (ridge-mean, ridge-pos, ridge-blend); give --method {chosen} a number."); }
            if (isRidge)
            {
                var motionChoices = OnOffAuto.Parse(r.GetValue(motion)!, "--motion");
                var squashChoices = OnOffAuto.Parse(r.GetValue(squash)!, "--squash");
                var withDeductions = OnOffAuto.ParseOnOff(r.GetValue(deductions)!, "--deductions");
                return TrainRidge(r.Required(dataset), r.GetValue(target), r.Required(output).FullName, r.GetValue(modelId), r.GetValue(folds), r.GetValue(fold),
                    r.GetValue(seed), r.GetValue(lengthTerm), ParseAlphas(r.GetValue(alphas)), r.GetValue(refitAll), positional: chosen != MeanPooledRidge.MethodName,
                    blend: chosen == PositionalRidge.BlendMethodName, companionAuto ? Scoring.Evaluation.Companion.AutoGrid : [companionWeight], motionChoices, squashChoices, withDeductions);
            }
            if (isSequence)
            {
                if (chosen == "mlp-mean" && (r.GetResult(grades) is { Implicit: false } || r.GetResult(auxWeight) is { Implicit: false } || r.GetResult(heads) is { Implicit: false }))
                {
                    throw new ArgumentException("--grades, --aux-weight and --heads do not apply to --method mlp-mean.");
                }
                if (chosen != "gdlt-ws" && r.GetResult(localHeads) is { Implicit: false })
                {
                    throw new ArgumentException($"--local-heads applies to --method gdlt-ws only, not {chosen}.");
                }
                if (chosen == "gdlt-ws" && (r.GetResult(grades) is { Implicit: false } || r.GetResult(auxWeight) is { Implicit: false }))
                {
                    throw new ArgumentException("--grades and --aux-weight do not apply to --method gdlt-ws.");
                }
                if (chosen != "qgvl" && r.GetValue(prompts) is not null) { throw new ArgumentException($"--prompt-embeddings does not apply to --method {chosen} (qgvl only)."); }
                var defaults = SequenceTrainer.Defaults(chosen);
                T Pick<T>(Option<T> option, T fallback) => r.GetResult(option) is { Implicit: false } ? r.GetValue(option)! : fallback;
                var training = defaults with
                {
                    Epochs = Pick(epochs, SequenceTrainer.DefaultEpochs), BatchSize = Pick(batch, defaults.BatchSize), LearningRate = Pick(lr, defaults.LearningRate),
                    WeightDecay = Pick(wd, defaults.WeightDecay), Schedule = Pick(schedule, defaults.Schedule), WarmupEpochs = Pick(warmup, defaults.WarmupEpochs),
                    TrainLength = Pick(trainLength, defaults.TrainLength), Patience = Pick(patience, defaults.Patience), Folds = r.GetValue(folds),
                    ValidationFold = r.GetValue(fold), Seed = r.GetValue(seed), Recalibrate = !r.GetValue(noRecalibrate), CompanionWeight = companionWeight,
                };
                if (companionWeight > 0 && !training.Recalibrate) { throw new ArgumentException("--companion-weight needs the recalibration line that maps the mixed label back to the target: drop --no-recalibrate."); }
                var promptFile = r.GetValue(prompts);
                var sequenceArchitecture = new SequenceMethodOptions
                {
                    Method = chosen, Hidden = r.GetValue(hidden), Grades = r.GetValue(grades), AuxiliaryWeight = r.GetValue(auxWeight), LocalHeads = r.GetValue(localHeads),
                    Heads = Pick(heads, s.Heads), Dropout = Pick(dropout, s.Dropout), PromptEmbeddings = promptFile?.Name,
                };
                return TrainSequence(r.Required(dataset), r.GetValue(target), r.Required(output).FullName, r.GetValue(modelId), sequenceArchitecture, training,
                    Scoring.Torch.TorchDevice.Parse(r.GetValue(device)), r.GetValue(threads), promptFile is null ? null : ReadPrompts(promptFile, sequenceArchitecture.Grades));
            }
            EngineOptions.SetThreads(r.GetValue(threads));
            var root = CommonOptions.ExistingDirectory(r.Required(dataset), "dataset directory");
            var labelsPath = Path.Combine(root, "train.txt");
            var featureDir = Path.Combine(root, "features");
            var tgt = r.GetValue(target);
            var options = new TrainingOptions
            {
                Epochs = r.GetValue(epochs), BatchSize = r.GetValue(batch), LearningRate = r.GetValue(lr), WeightDecay = r.GetValue(wd),
                Schedule = r.GetValue(schedule), WarmupEpochs = r.GetValue(warmup), TrainLength = r.GetValue(trainLength),
                ScoreScale = r.GetValue(scale), PredictionNoiseStd = r.GetValue(noise), Folds = r.GetValue(folds),
                ValidationFold = r.GetValue(fold), Patience = r.GetValue(patience), Seed = r.GetValue(seed),
            };
            options.Validate();
            var labels = ScoreLabels.ReadFile(labelsPath);
            Console.Error.WriteLine($"loading {labels.Count} performances from {featureDir} ...");
            if (labels.Count == 0) { throw new DataFormatException($"{labelsPath}: no performances."); }
            // The feature width comes from the data (Fis-V: 1024; `aqa synth`: the descriptor's width).
            var featureDim = NpyReader.ReadFile(Path.Combine(featureDir, labels[0].Id + ".npy")).Columns;
            var architecture = new DecoderOptions
            {
                FeatureDim = featureDim, ModelDim = r.GetValue(modelDim), Layers = r.GetValue(layers), Heads = r.GetValue(heads), Dropout = r.GetValue(dropout),
                AttentionDropout = r.GetValue(attDropout), QueryInitStd = r.GetValue(queryStd), QueryInit = r.GetValue(queryInit),
                MaxQueries = r.GetValue(maxQueries), MaskPadding = !r.GetValue(noMask), Causal = r.GetValue(causal), LocalCross = r.GetValue(localCross),
                AttentionLossWeight = r.GetValue(attWeight),
            };
            architecture.Validate();
            var samples = FeatureStore.LoadLabelled(featureDir, labels, tgt, architecture.FeatureDim);
            var (train, validation) = TrainingData.Split(samples, options.Folds, options.ValidationFold, options.Seed);
            var split = $"seeded {options.Folds}-fold split of train.txt (seed {options.Seed}), fold {options.ValidationFold} held out for validation";
            var torchDevice = Scoring.Torch.TorchDevice.Parse(r.GetValue(device));
            using var model = new Scoring.Torch.TorchWeightScoreDecoder(architecture, torchDevice, options.Seed);
            Console.Error.WriteLine($"training {tgt} on {train.Count} performances, validating on {validation.Count} ({split}); " +
                $"{model.ParameterCount:N0} parameters, d = {architecture.ModelDim}{(architecture.Causal ? ", causal" : "")}{(architecture.LocalCross ? ", clip-local cross-attention" : "")}; " +
                $"libtorch on {torchDevice}");
            var progress = new EpochPrinter();
            var result = new Scoring.Torch.TorchTrainer(options).Train(model, train, validation, progress);
            var settings = Settings(options, result.History.Count, $"torch ({torchDevice}, libtorch {TorchSharp.torch.__version__})");
            settings["prediction_noise"] = options.PredictionNoiseStd.ToString(CultureInfo.InvariantCulture);
            var outPath = r.Required(output).FullName;
            var card = new ModelCard
            {
                ModelId = r.GetValue(modelId) ?? Path.GetFileNameWithoutExtension(outPath),
                Architecture = architecture,
                Target = tgt,
                ScoreScale = options.ScoreScale,
                Seed = options.Seed,
                Training = new TrainingProvenance(Path.GetFileName(root.TrimEnd('/')), train.Count, validation.Count, split, settings,
                    Math.Round(result.Seconds, 1), validation.Select(v => v.Id).ToList()),
                Validation = WithBaselines(result.Best, train, validation),
            };
            CheckpointStore.Save(outPath, new Scoring.Torch.TorchClipScorer(model), card);
            return Saved(outPath, result);
        }));
        return cmd;
    }

    /// <summary>The methods <c>--method</c> takes.</summary>
    public static readonly IReadOnlyList<string> Methods = [DecoderOptions.MethodName, MeanPooledRidge.MethodName, PositionalRidge.MethodName, PositionalRidge.BlendMethodName, .. SequenceMethodOptions.Methods];

    private static List<double>? ParseAlphas(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) { return null; }
        var values = new List<double>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!double.TryParse(part, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) || !(v > 0))
            {
                throw new ArgumentException($"--alphas: '{part}' is not a positive number (give a comma-separated list such as 30,100,300).");
            }
            values.Add(v);
        }
        return values;
    }

    private static int TrainRidge(DirectoryInfo datasetDir, ScoreTarget tgt, string outPath, string? modelId, int folds, int fold, int seed, bool lengthTerm,
        List<double>? alphas, bool refitAll, bool positional, bool blend, IReadOnlyList<double> companionWeights, IReadOnlyList<bool> motion, IReadOnlyList<bool> squash,
        bool deductions)
    {
        if (folds < 2) { throw new ArgumentException("--folds must be at least 2 (one fold is held out for validation)."); }
        if (fold < 0 || fold >= folds) { throw new ArgumentException($"--val-fold {fold} is not in 0..{folds - 1}."); }
        var (root, featureDim, samples, train, validation, split) = LoadSplit(datasetDir, tgt, folds, fold, seed);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        IClipScorer model;
        double alpha;
        var (knots, share, meanAlpha) = (1, 0.0, 0.0);
        var (meanWeight, positionalWeight) = (0.0, 0.0);
        MeanPooledRidge? blendMean = null;
        var (meanMotion, positionalMotion, squashed) = (false, false, false);
        PositionalRidge.DeductionFit? deductionFit = null;
        if (blend)
        {
            var fit = PositionalRidge.FitBlend(train, companionWeights, motion, squash, seed, alphas, deductions);
            deductionFit = fit.Deductions;
            (blendMean, meanAlpha, meanWeight, knots, share, alpha, positionalWeight) = (fit.Mean, fit.MeanAlpha, fit.MeanWeight, fit.Knots, fit.Share, fit.PositionalAlpha, fit.PositionalWeight);
            (meanMotion, positionalMotion, squashed) = (fit.Mean.HasMotion, fit.Positional.HasMotion, fit.Blend.Squash is not null);
            model = fit.Blend;
        }
        else if (positional)
        {
            PositionalRidge fitted;
            var outOfFold = deductions ? new double[train.Count] : null;
            (fitted, knots, share, alpha, positionalWeight) = PositionalRidge.FitChoosingCompanion(train, companionWeights, alphas: alphas, seed: seed, motion: motion, squash: squash,
                outOfFold: outOfFold);
            (positionalMotion, squashed) = (fitted.HasMotion, fitted.Squash is not null);
            if (deductions) { (fitted, deductionFit) = PositionalRidge.AddDeductions(fitted, train, outOfFold!, seed); }
            model = fitted;
        }
        else
        {
            MeanPooledRidge fitted;
            (fitted, alpha, meanWeight) = MeanPooledRidge.FitChoosingCompanion(train, lengthTerm, companionWeights, alphas, seed, motion: motion, squash: squash);
            (meanMotion, squashed) = (fitted.HasMotion, fitted.Squash is not null);
            model = fitted;
        }
        var predictions = model.Score(validation, 1f);
        var report = Scoring.Metrics.RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), validation.Select(v => (double)v.Score!.Value).ToList());
        var name = positional ? $"{(blend ? $"{PositionalRidge.BlendMethodName}: ridge-mean (penalty {meanAlpha.ToString(CultureInfo.InvariantCulture)}) and " : "")}{PositionalRidge.MethodName} ({knots} knots, share {share.ToString(CultureInfo.InvariantCulture)})"
            : MeanPooledRidge.MethodName + (lengthTerm ? " + ln T" : "");
        if (squashed) { name += " on squashed clips"; }
        if (meanMotion || positionalMotion)
        {
            name += positional && blend ? $" (motion: ridge-mean {(meanMotion ? "on" : "off")}, ridge-pos {(positionalMotion ? "on" : "off")})" : " + motion";
        }
        if (deductions)
        {
            name += deductionFit is null ? " (deduction term not taken: no negative price on the inner folds)"
                : string.Create(CultureInfo.InvariantCulture, $" + deductions ({deductionFit.Points:F2} points per expected deduction)");
        }
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name} on {tgt}: penalty {alpha} (inner {MeanPooledRidge.InnerFolds}-fold CV on {train.Count}); validation spearman {report.Spearman:F4} mse {report.Mse:F3} on {validation.Count}"));
        if (refitAll)
        {
            var companion = companionWeights is not [0];
            // The chosen weights, penalties, motion and squash, refitted on every performance (the squash's c and σ from
            // all their clips); with a companion the line back to the target comes from the inner folds of all of them
            // (the same procedure, on more data).
            // The deduction term, when the training part took it, is refitted the same way: on the refitted ridge's inner
            // out-of-fold predictions over all of them.
            var (meanOutOfFold, positionalOutOfFold) = deductionFit is null ? (null, null) : (new double[samples.Count], new double[samples.Count]);
            MeanPooledRidge RefitMean(double a) => MeanPooledRidge.FitChoosingCompanion(samples, lengthTerm, [meanWeight], [a], seed, motion: [meanMotion], squash: [squashed],
                outOfFold: meanOutOfFold).Model;
            PositionalRidge RefitPositional() => PositionalRidge.FitChoosingCompanion(samples, [positionalWeight], knots: [knots], alphas: [alpha / knots], shares: [share], seed: seed,
                motion: [positionalMotion], squash: [squashed], outOfFold: positionalOutOfFold).Model;
            model = !positional ? RefitMean(alpha) : blend ? PositionalRidge.Blend(RefitMean(meanAlpha), RefitPositional()) : RefitPositional();
            if (deductionFit is not null)
            {
                var stackedOn = blend ? PositionalRidge.BlendOutOfFold(meanOutOfFold!, positionalOutOfFold!) : positionalOutOfFold!;
                (model, deductionFit) = PositionalRidge.AddDeductions((PositionalRidge)model, samples, stackedOn, seed);
            }
            split += $"; then refit on all {samples.Count} with that penalty{(companion ? " and companion weight (its line from the inner folds of all of them)" : "")}{(motion is [true] || motion.Count > 1 ? " and motion choice" : "")}{(squashed ? " and squash (refitted on all their clips)" : "")}";
        }
        var settings = new Dictionary<string, string>
        {
            ["method"] = blend ? PositionalRidge.BlendMethodName : positional ? PositionalRidge.MethodName : MeanPooledRidge.MethodName,
            ["mean_alpha"] = meanAlpha.ToString(CultureInfo.InvariantCulture),
            ["knots"] = knots.ToString(CultureInfo.InvariantCulture),
            ["share"] = share.ToString(CultureInfo.InvariantCulture),
            ["alpha"] = alpha.ToString(CultureInfo.InvariantCulture),
            ["alphas"] = string.Join(",", (alphas ?? [.. MeanPooledRidge.DefaultAlphas]).Select(a => a.ToString(CultureInfo.InvariantCulture))),
            ["length_term"] = lengthTerm ? "true" : "false",
            ["motion"] = motion.Count > 1
                ? $"auto: {(positional ? $"{(blend ? $"ridge-mean {(meanMotion ? "on" : "off")}, " : "")}ridge-pos {(positionalMotion ? "on" : "off")}" : meanMotion ? "on" : "off")}"
                : OnOffAuto.Describe(motion),
            ["squash"] = squash.Count > 1 ? $"auto: {(squashed ? "on" : "off")}" : OnOffAuto.Describe(squash),
            ["deductions"] = !deductions ? "off" : deductionFit is null ? "on: not taken (no negative price on the inner folds)"
                : string.Create(CultureInfo.InvariantCulture, $"on: {deductionFit.Points:F3} points per expected deduction, line {deductionFit.Slope:F4}·ŷ + {deductionFit.Intercept:F3}, inner out-of-fold MSE {deductionFit.MseWithout:F3} → {deductionFit.MseWith:F3}"),
            ["refit_all"] = refitAll ? "true" : "false",
            ["companion_weight"] = companionWeights is [var only] ? only.ToString(CultureInfo.InvariantCulture)
                : $"auto from {string.Join(",", companionWeights.Select(w => w.ToString(CultureInfo.InvariantCulture)))}: "
                  + (positional ? $"{(blend ? $"ridge-mean {meanWeight.ToString(CultureInfo.InvariantCulture)}, " : "")}ridge-pos {positionalWeight.ToString(CultureInfo.InvariantCulture)}" : meanWeight.ToString(CultureInfo.InvariantCulture)),
            ["command"] = "./aqa " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
        };
        var card = new ModelCard
        {
            Format = positional ? ModelCard.PositionalRidgeFormat : ModelCard.RidgeFormat,
            ModelId = modelId ?? Path.GetFileNameWithoutExtension(outPath),
            Architecture = new DecoderOptions { FeatureDim = featureDim, MaxQueries = MeanPooledRidge.DefaultMaxClips },
            Target = tgt,
            ScoreScale = 1f,
            Seed = seed,
            // A refit model has seen the held-out fold: no validation ids remain (eval/replay --validation-split refuse it).
            Training = new TrainingProvenance(Path.GetFileName(root.TrimEnd('/')), refitAll ? samples.Count : train.Count, validation.Count, split, settings,
                Math.Round(clock.Elapsed.TotalSeconds, 1), refitAll ? [] : validation.Select(v => v.Id).ToList()),
            Validation = WithBaselines(new ValidationSummary(report.Spearman, report.Pearson, report.Mse, report.RelativeL2, report.Count, 0), train, validation),
        };
        CheckpointStore.Save(outPath, model, card);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"validation spearman {report.Spearman:F4}  mse {report.Mse:F3}  rl2 {report.RelativeL2:F5}  n {report.Count}  (penalty {alpha})"));
        Console.WriteLine($"wrote {outPath} and {CheckpointStore.CardPath(outPath)}");
        return 0;
    }

    /// <summary>A benchmark method id (a blend, a -cW method, a cross-fit ensemble) trained on the training split as the
    /// benchmark trains it on one fold, validated on the held-out fold, saved as one checkpoint.</summary>
    private static int TrainComposite(DirectoryInfo datasetDir, ScoreTarget tgt, string outPath, string? modelId, string id, int crossFit, int epochs, int folds, int fold, int seed)
    {
        if (folds < 2) { throw new ArgumentException("--folds must be at least 2 (one fold is held out for validation)."); }
        if (fold < 0 || fold >= folds) { throw new ArgumentException($"--val-fold {fold} is not in 0..{folds - 1}."); }
        if (epochs < 1) { throw new ArgumentException($"--epochs {epochs} must be at least 1."); }
        var (root, featureDim, _, train, validation, split) = LoadSplit(datasetDir, tgt, folds, fold, seed);
        var method = BenchmarkCommand.MethodFor(id, featureDim, epochs, 256, tgt, crossFit);
        Console.Error.WriteLine($"training {method.Name} on {tgt}: {train.Count} performances, validating on {validation.Count} ({split})");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        // What the training part chose (epochs, penalties, companion weights, the motion term) goes on the card as well.
        var selection = new List<string>();
        var (scorer, scale, parameters) = method.Train(train, seed, line =>
        {
            selection.Add(line);
            Console.Error.WriteLine($"[{clock.Elapsed:hh\\:mm\\:ss}] {line}");
        });
        using var _ = scorer as IDisposable;
        if (scale != 1f) { throw new ArgumentException($"{method.Name} scores in model units; train it with its own --method options."); }
        var predictions = scorer.Score(validation, 1f);
        var report = Scoring.Metrics.RegressionMetrics.Evaluate(predictions.Select(p => (double)p.Score).ToList(), validation.Select(v => (double)v.Score!.Value).ToList());
        var settings = new Dictionary<string, string>
        {
            ["method"] = method.Name,
            ["description"] = method.Description,
            ["cross_fit"] = crossFit.ToString(CultureInfo.InvariantCulture),
            ["epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
            ["parameters"] = parameters.ToString(CultureInfo.InvariantCulture),
            ["selection"] = string.Join(" | ", selection),
            ["engine"] = $"torch (cpu, libtorch {TorchSharp.torch.__version__})",
            ["command"] = "./aqa " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
        };
        var card = new ModelCard
        {
            ModelId = modelId ?? Path.GetFileNameWithoutExtension(outPath),
            Architecture = new DecoderOptions { FeatureDim = featureDim, MaxQueries = scorer.MaxClips },
            Target = tgt,
            ScoreScale = 1f,
            Seed = seed,
            Training = new TrainingProvenance(Path.GetFileName(root.TrimEnd('/')), train.Count, validation.Count, split, settings,
                Math.Round(clock.Elapsed.TotalSeconds, 1), validation.Select(v => v.Id).ToList()),
            Validation = WithBaselines(new ValidationSummary(report.Spearman, report.Pearson, report.Mse, report.RelativeL2, report.Count, 0), train, validation),
        };
        CheckpointStore.Save(outPath, scorer, card);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{method.Name}: validation spearman {report.Spearman:F4}  mse {report.Mse:F3}  rl2 {report.RelativeL2:F5}  n {report.Count}  ({clock.Elapsed.TotalSeconds:F0} s)"));
        Console.WriteLine($"wrote {outPath} and {CheckpointStore.CardPath(outPath)}");
        return 0;
    }

    /// <summary>A dataset's labelled performances (feature width from its first file) and the seeded validation split.</summary>
    private static (string Root, int FeatureDim, IReadOnlyList<PerformanceSample> Samples, List<PerformanceSample> Train, List<PerformanceSample> Validation, string Split) LoadSplit(
        DirectoryInfo datasetDir, ScoreTarget tgt, int folds, int fold, int seed)
    {
        var root = CommonOptions.ExistingDirectory(datasetDir, "dataset directory");
        var labelsPath = Path.Combine(root, "train.txt");
        var featureDir = Path.Combine(root, "features");
        var labels = ScoreLabels.ReadFile(labelsPath);
        if (labels.Count == 0) { throw new DataFormatException($"{labelsPath}: no performances."); }
        var featureDim = NpyReader.ReadFile(Path.Combine(featureDir, labels[0].Id + ".npy")).Columns;
        Console.Error.WriteLine($"loading {labels.Count} performances from {featureDir} ...");
        var samples = FeatureStore.LoadLabelled(featureDir, labels, tgt, featureDim);
        var (train, validation) = TrainingData.Split(samples, folds, fold, seed);
        return (root, featureDim, samples, train, validation, $"seeded {folds}-fold split of train.txt (seed {seed}), fold {fold} held out for validation");
    }

    /// <summary>The validation figures with the constant and ridge-mean baselines on the same split (fitted on the same
    /// training performances), so the card says whether the model is fit for air; prints them, and a warning when the
    /// model loses to them.</summary>
    private static ValidationSummary WithBaselines(ValidationSummary summary, IReadOnlyList<PerformanceSample> train, IReadOnlyList<PerformanceSample> validation)
    {
        var baselines = ValidationBaselines.Measure(train, validation);
        if (baselines.Count == 0)
        {
            Console.Error.WriteLine($"no baselines on the card: they need at least {ValidationBaselines.MinimumTraining} training and 2 validation performances");
            return summary;
        }
        var withBaselines = summary with { Baselines = baselines };
        Console.Error.WriteLine("baselines on the same split: " + string.Join("; ", baselines.Select(b => b.Summary())));
        if (withBaselines.LosesToBaselines() is { } loss)
        {
            Console.Error.WriteLine($"warning: {loss}; serve and demo refuse it without --allow-below-baseline");
        }
        return withBaselines;
    }

    /// <summary>Prints the best epoch and where the checkpoint went.</summary>
    private static int Saved(string outPath, TrainingResult result)
    {
        var b = result.Best;
        Console.WriteLine($"best epoch {b.Epoch}: validation spearman {b.Spearman:F4}  mse {b.Mse:F3}  rl2 {b.RelativeL2:F5}  n {b.Count}  ({result.Seconds:F0} s)");
        Console.WriteLine($"wrote {outPath} and {CheckpointStore.CardPath(outPath)}");
        return 0;
    }

    /// <summary>The training settings a card records (both trainers).</summary>
    private static Dictionary<string, string> Settings(TrainingOptions o, int epochsRun, string engine) => new()
    {
        ["epochs"] = o.Epochs.ToString(CultureInfo.InvariantCulture),
        ["epochs_run"] = epochsRun.ToString(CultureInfo.InvariantCulture),
        ["batch_size"] = o.BatchSize.ToString(CultureInfo.InvariantCulture),
        ["lr"] = o.LearningRate.ToString(CultureInfo.InvariantCulture),
        ["weight_decay"] = o.WeightDecay.ToString(CultureInfo.InvariantCulture),
        ["lr_schedule"] = o.Schedule.ToString(),
        ["warmup_epochs"] = o.WarmupEpochs.ToString(CultureInfo.InvariantCulture),
        ["train_length"] = o.TrainLength.ToString(CultureInfo.InvariantCulture),
        ["patience"] = o.Patience.ToString(CultureInfo.InvariantCulture),
        ["engine"] = engine,
        ["command"] = "./aqa " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
    };

    /// <summary>The prompt embeddings of <c>--prompt-embeddings</c>: one row per grade, finite.</summary>
    private static float[,] ReadPrompts(FileInfo file, int grades)
    {
        var path = CommonOptions.ExistingFile(file, "prompt-embeddings file");
        NpyMatrix m;
        try { m = NpyReader.ReadFile(path); }
        catch (DataFormatException e) { throw new ArgumentException($"--prompt-embeddings {path}: {e.Message}", e); }
        if (m.Rows != grades) { throw new ArgumentException($"--prompt-embeddings {path}: {m.Rows} rows × {m.Columns}; give one row per grade ({grades}, --grades)."); }
        if (!m.Data.All(float.IsFinite)) { throw new ArgumentException($"--prompt-embeddings {path}: holds a non-finite value."); }
        var result = new float[m.Rows, m.Columns];
        for (var i = 0; i < m.Rows; i++) { for (var j = 0; j < m.Columns; j++) { result[i, j] = m.Data[(i * m.Columns) + j]; } }
        return result;
    }

    private static int TrainSequence(DirectoryInfo datasetDir, ScoreTarget tgt, string outPath, string? modelId, SequenceMethodOptions architecture, TrainingOptions training,
        TorchSharp.torch.Device device, int threads, float[,]? promptEmbeddings)
    {
        if (training.Folds < 2) { throw new ArgumentException("--folds must be at least 2 (one fold is held out for validation)."); }
        if (training.ValidationFold < 0 || training.ValidationFold >= training.Folds) { throw new ArgumentException($"--val-fold {training.ValidationFold} is not in 0..{training.Folds - 1}."); }
        training.Validate();
        if (device.type != TorchSharp.DeviceType.CPU) { throw new ArgumentException($"--device {device}: the sequence methods train on the CPU in this build (a model moves to another device when loaded)."); }
        EngineOptions.SetThreads(threads);
        var (root, featureDim, _, train, validation, split) = LoadSplit(datasetDir, tgt, training.Folds, training.ValidationFold, training.Seed);
        Console.Error.WriteLine($"training {architecture.Method} on {tgt}: {train.Count} performances, validating on {validation.Count} ({split}); crops of {training.TrainLength} clips, {training.Epochs} epochs");
        if (training.CompanionWeight > 0)
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"learning {tgt} + {training.CompanionWeight}·{(tgt == ScoreTarget.TES ? ScoreTarget.PCS : ScoreTarget.TES)}: the epochs' validation ρ is against {tgt} (it picks the epoch); their MSE is of the mixed-label predictions until the line at the end maps them back"));
        }
        var (scorer, result) = new SequenceTrainer(training).Train(architecture with { FeatureDim = featureDim }, train, validation, new EpochPrinter(), promptEmbeddings: promptEmbeddings);
        using var _ = scorer;
        if (result.Recalibration is var (slope0, intercept0))
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"recalibrated on the validation split: y = {slope0:F4}·ŷ + {intercept0:F3} (--no-recalibrate keeps the trained mapping)"));
        }
        var settings = Settings(training, result.History.Count, $"torch (cpu, libtorch {TorchSharp.torch.__version__})");
        settings["optimizer"] = "AdamW";
        settings["companion_weight"] = training.CompanionWeight.ToString(CultureInfo.InvariantCulture);
        settings["recalibration"] = result.Recalibration is var (slope, intercept)
            ? string.Create(CultureInfo.InvariantCulture, $"y = {slope:R}·ŷ + {intercept:R}, fitted on the validation split at the best epoch (the validation figures are the recalibrated model's)")
            : "none";
        var card = new ModelCard
        {
            Format = ModelCard.SequenceFormat,
            ModelId = modelId ?? Path.GetFileNameWithoutExtension(outPath),
            Architecture = new DecoderOptions { FeatureDim = featureDim, MaxQueries = scorer.MaxClips },
            SequenceMethod = scorer.Options,
            Target = tgt,
            ScoreScale = 1f,
            Seed = training.Seed,
            Training = new TrainingProvenance(Path.GetFileName(root.TrimEnd('/')), train.Count, validation.Count, split, settings,
                Math.Round(result.Seconds, 1), validation.Select(v => v.Id).ToList()),
            Validation = WithBaselines(result.Best, train, validation),
        };
        CheckpointStore.Save(outPath, scorer, card);
        return Saved(outPath, result);
    }

    private sealed class EpochPrinter : IProgress<EpochReport>
    {
        private double _elapsed;

        public void Report(EpochReport e)
        {
            _elapsed += e.Seconds;
            var eta = _elapsed / e.Epoch * (e.Epochs - e.Epoch);
            var v = e.Validation;
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"epoch {e.Epoch,4}/{e.Epochs}  mse {e.RegressionLoss:F5}  att {e.AttentionLoss:F4}  lr {e.LearningRate:E2}  " +
                $"val ρ {v.Spearman:F4} mse {v.Mse,7:F3}{(e.Improved ? " *" : "  ")}  {e.Seconds:F1}s  eta {TimeSpan.FromSeconds(eta):mm\\:ss}"));
        }
    }
}
