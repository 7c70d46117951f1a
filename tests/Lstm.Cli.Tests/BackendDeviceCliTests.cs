using System.Globalization;
using Lstm.Runtime.Devices;
using Lstm.Runtime.Persistence;
using Lstm.Tests.Shared;

namespace Lstm.Cli.Tests;

/// <summary>
/// The verbs on every CUDA and OpenCL device present (an OpenCL CPU device included):
/// <c>selftest</c>, <c>run</c> on the golden cases, <c>bench</c>, and training with the device
/// beside <c>cpu</c> as a data-parallel replica (<c>--devices</c>) and as a pipeline stage
/// (<c>--placement</c>). A machine without a device of the kind shows a skip that says so.
/// </summary>
public sealed class BackendDeviceCliTests : CliRunner
{
    private static readonly string[] GoldenCases =
        ["a_seed_l2_bf", "b_tiny", "c_bidir_l2_seqfirst", "d_proj8", "e_nobias_l2", "f_long_T200", "g_seed_f64", "h1_gru", "h2_rnn_tanh", "i_no_state_l2_bf"];

    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void SelfTest_Passes(DeviceKind kind)
    {
        foreach (var device in TestDevices.OfKindOrSkip(kind))
            Assert.Contains($"selftest passed: 48 checks on {device.Name}", Ok("selftest", "--device", device.Name), StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void Run_GoldenCases_ReproducePyTorch(DeviceKind kind)
    {
        foreach (var device in TestDevices.OfKindOrSkip(kind))
        {
            foreach (string stem in GoldenCases)
            {
                var golden = GoldenCase.Load(stem);
                string model = At(stem + ".model.safetensors"), input = At(stem + ".input.safetensors"), output = At(stem + ".y.safetensors");
                new SafeTensorsFile(golden.ParamNames.Select(golden.File.Get)).Write(model);
                new SafeTensorsFile(new[] { "x", "h0", "c0" }.Where(golden.File.Contains).Select(golden.File.Get)).Write(input);
                var args = new List<string> { "run", "--model", model, "--input", input, "--output", output, "--device", device.Name };
                if (golden.BatchFirst)
                    args.Add("--batch-first");
                if (golden.Mode == "RNN_TANH")
                    args.AddRange(["--cell", "rnn-tanh"]);
                Ok([.. args]);
                var result = SafeTensorsFile.Read(output);
                double tol = golden.IsFloat64 ? 1e-12 : 1e-5;
                foreach (var name in new[] { "output", "h_n", "c_n" }.Where(golden.File.Contains))
                {
                    double error = Numerics.MaxAbsError(result.Get(name).ToFloat64(), golden.Get(name));
                    Assert.True(error <= tol, $"{device.Name} {stem} {name}: {error:E2} > {tol:E0}");
                }
            }
        }
    }

    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void Bench_TimesBothModes(DeviceKind kind)
    {
        foreach (var device in TestDevices.OfKindOrSkip(kind))
        {
            string stdout = Ok("bench", "--device", device.Name, "--shapes", "2,3,4,5,1", "--repeats", "1", "--warmup", "0");
            var rows = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Where(f => f.Length == 8 && f[0] == "2" && f[4] == "1")
                .ToList();
            Assert.Equal(["inference", "training"], rows.Select(r => r[5]));
            Assert.All(rows, r => Assert.True(double.Parse(r[6], CultureInfo.InvariantCulture) > 0, $"{device.Name}: {string.Join(' ', r)}"));
        }
    }

    private static readonly string[] Adding =
        ["--task", "adding", "--seq-len", "6", "--train-samples", "64", "--val-samples", "16", "--hidden", "6", "--layers", "2",
            "--steps", "6", "--batch-size", "8", "--validate-every", "3", "--seed", "3", "--quiet"];

    private double[] Losses(string run) => Metrics(run).Select(m => m.GetProperty("train_loss").GetDouble()).ToArray();

    /// <summary>The device beside <c>cpu</c> as a replica and as a layer's stage follows the one-<c>cpu</c> run to rounding.</summary>
    [SkippableTheory]
    [InlineData(DeviceKind.Cuda)]
    [InlineData(DeviceKind.OpenCL)]
    public void Train_BesideCpu_AsReplicaAndAsStage_FollowsOneDevice(DeviceKind kind)
    {
        var devices = TestDevices.OfKindOrSkip(kind);
        Ok(["train", .. Adding, "--device", "cpu", "--out", At("one")]);
        var one = Losses(At("one"));
        foreach (var device in devices)
        {
            foreach (var (mode, names) in new[] { ("--devices", $"cpu,{device.Name}"), ("--placement", $"cpu,{device.Name}"), ("--placement", $"{device.Name},cpu") })
            {
                string run = At($"{mode.TrimStart('-')}-{names.Replace(':', '_').Replace(',', '-')}");
                Assert.Contains("trained to step 6", Ok(["train", .. Adding, mode, names, "--out", run]), StringComparison.Ordinal);
                var losses = Losses(run);
                Assert.Equal(one.Length, losses.Length);
                for (int i = 0; i < one.Length; i++)
                    Assert.True(Math.Abs(one[i] - losses[i]) <= 1e-4 * Math.Abs(one[i]) + 1e-7, $"{mode} {names} step {i + 1}: loss {losses[i]}, {one[i]} on cpu");
            }
        }
    }
}
