using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Hermes.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Hermes.Benchmarks.Samples).Assembly).Run(args);
