using AqaStream.Bench;

return BenchApp.Run(args);
