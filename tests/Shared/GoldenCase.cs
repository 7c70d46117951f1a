using System.Globalization;
using Lstm.Runtime.Persistence;

namespace Lstm.Tests.Shared;

/// <summary>A case written by PyTorch (tests/data/golden): configuration, inputs, outputs and gradients.</summary>
public sealed class GoldenCase
{
    private GoldenCase(string name, SafeTensorsFile file)
    {
        Name = name;
        File = file;
        var m = file.Metadata;
        Mode = m["mode"];
        InputSize = Int(m["input_size"]);
        HiddenSize = Int(m["hidden_size"]);
        NumLayers = Int(m["num_layers"]);
        Bidirectional = m["bidirectional"] == "true";
        BatchFirst = m["batch_first"] == "true";
        ProjSize = Int(m["proj_size"]);
        Bias = m["bias"] == "true";
        IsFloat64 = m["dtype"] == "float64";
        SeqLen = Int(m["seq_len"]);
        Batch = Int(m["batch"]);
        HasInitialState = m["has_initial_state"] == "true";
        ParamNames = m["param_names"].Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The directory holding the golden files, copied beside the test assembly.</summary>
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "data", "golden");

    public string Name { get; }

    public SafeTensorsFile File { get; }

    public string Mode { get; }

    public int InputSize { get; }

    public int HiddenSize { get; }

    public int NumLayers { get; }

    public bool Bidirectional { get; }

    public bool BatchFirst { get; }

    public int ProjSize { get; }

    public bool Bias { get; }

    public bool IsFloat64 { get; }

    public int SeqLen { get; }

    public int Batch { get; }

    public bool HasInitialState { get; }

    public IReadOnlyList<string> ParamNames { get; }

    /// <summary>Loads a case by file stem, e.g. <c>a_seed_l2_bf</c>.</summary>
    public static GoldenCase Load(string stem) =>
        new(stem, SafeTensorsFile.Read(Path.Combine(Directory, stem + ".safetensors")));

    /// <summary>A tensor as float64 values.</summary>
    public double[] Get(string name) => File.Get(name).ToFloat64();

    /// <summary>A tensor's shape.</summary>
    public int[] Shape(string name) => File.Get(name).Shape.ToArray();

    private static int Int(string s) => int.Parse(s, CultureInfo.InvariantCulture);
}
