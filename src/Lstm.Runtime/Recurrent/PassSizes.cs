
namespace Lstm.Runtime.Recurrent;

/// <summary>The sizes of one pass over T steps of B rows (dimension letters as in <see cref="RecurrentEngine{T}"/>).</summary>
internal readonly struct PassSizes
{
    public PassSizes(RecurrentConfig config, int gates, int actsPerHidden, int steps, int batch)
    {
        Steps = steps;
        Batch = batch;
        Hidden = config.HiddenSize;
        HiddenOutput = config.HiddenOutputSize;
        Proj = config.ProjSize;
        Directions = config.Directions;
        Layers = config.NumLayers;
        Gates = gates * Hidden;
        ActsWidth = actsPerHidden * Hidden;
        StepSize = (long)batch * Hidden;
        OutStep = (long)batch * HiddenOutput;
        GateStep = (long)batch * Gates;
        OutPerDirection = steps * OutStep;
    }

    /// <summary>Sizes for a cell.</summary>
    public static PassSizes For<T>(RecurrentConfig config, IRecurrentCell<T> cell, int steps, int batch) where T : unmanaged =>
        new(config, cell.Gates, cell.ActsPerHidden, steps, batch);

    /// <summary>T.</summary>
    public int Steps { get; }

    /// <summary>B.</summary>
    public int Batch { get; }

    /// <summary>H.</summary>
    public int Hidden { get; }

    /// <summary>H_out.</summary>
    public int HiddenOutput { get; }

    /// <summary>P, 0 for none.</summary>
    public int Proj { get; }

    /// <summary>D.</summary>
    public int Directions { get; }

    /// <summary>L.</summary>
    public int Layers { get; }

    /// <summary>G: gates·H.</summary>
    public int Gates { get; }

    /// <summary>A·H: the width of a step's stored activations per row.</summary>
    public int ActsWidth { get; }

    /// <summary>B·H.</summary>
    public long StepSize { get; }

    /// <summary>B·H_out.</summary>
    public long OutStep { get; }

    /// <summary>B·G.</summary>
    public long GateStep { get; }

    /// <summary>T·B·H_out: one direction's output.</summary>
    public long OutPerDirection { get; }
}
