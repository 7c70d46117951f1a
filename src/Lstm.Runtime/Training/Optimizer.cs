using System.Globalization;
using Lstm.Runtime.Persistence;
using Lstm.Runtime.Tensors;

namespace Lstm.Runtime.Training;

/// <summary>
/// A first-order optimizer over named parameters. Its state (moment buffers, the step count)
/// lives on the parameters' device and saves to and loads from safetensors under
/// <c>optim.&lt;param&gt;.&lt;state&gt;</c> (e.g. <c>optim.lstm.weight_ih_l0.exp_avg</c>) with the
/// step count and settings in the header's metadata, so training resumes exactly.
/// </summary>
/// <typeparam name="T">float or double.</typeparam>
public abstract class Optimizer<T> : IDisposable where T : unmanaged
{
    private readonly (string Name, Parameter<T> Parameter)[] _parameters;
    private readonly Dictionary<string, Tensor<T>>[] _state;
    private double _learningRate;

    /// <summary>Creates the optimizer over named parameters.</summary>
    /// <param name="parameters">Names (unique) and parameters.</param>
    /// <param name="learningRate">lr (≥ 0).</param>
    protected Optimizer(IEnumerable<(string Name, Parameter<T> Parameter)> parameters, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = parameters.ToArray();
        var duplicate = _parameters.GroupBy(p => p.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new LstmException($"optimizer: parameter name '{duplicate.Key}' appears more than once");
        _state = _parameters.Select(_ => new Dictionary<string, Tensor<T>>(StringComparer.Ordinal)).ToArray();
        LearningRate = learningRate;
    }

    /// <summary>The parameters with their names, in order.</summary>
    public IReadOnlyList<(string Name, Parameter<T> Parameter)> Parameters => _parameters;

    /// <summary>lr, used by the next <see cref="Step"/> (a schedule sets it before each step).</summary>
    public double LearningRate
    {
        get => _learningRate;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value))
                throw new LstmException($"learning rate {value.ToString(CultureInfo.InvariantCulture)} must be a finite number ≥ 0");
            _learningRate = value;
        }
    }

    /// <summary>Updates done so far (t after the last update; PyTorch's <c>state['step']</c>).</summary>
    public long StepCount { get; private set; }

    /// <summary>The name stored in the state file's metadata (<c>sgd</c>, <c>adam</c>, <c>adamw</c>).</summary>
    public abstract string Kind { get; }

    /// <summary>Names of the per-parameter state tensors this optimizer keeps (e.g. <c>exp_avg</c>).</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Applies one update from the accumulated gradients.</summary>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < _parameters.Length; i++)
            Update(_parameters[i].Parameter, StepCount, name => State(i, name));
    }

    /// <summary>Clears every gradient.</summary>
    public void ZeroGrad()
    {
        foreach (var (_, p) in _parameters)
            p.ZeroGrad();
    }

    /// <summary>Updates one parameter.</summary>
    /// <param name="parameter">The parameter and its gradient.</param>
    /// <param name="step">t, counting this update (1 on the first).</param>
    /// <param name="state">The parameter's state tensor of a name from <see cref="StateNames"/> (zeros when new).</param>
    protected abstract void Update(Parameter<T> parameter, long step, Func<string, Tensor<T>> state);

    /// <summary>Settings recorded in the state file (checked against on load only for <see cref="Kind"/>).</summary>
    protected virtual IEnumerable<KeyValuePair<string, string>> Settings() => [];

    private Tensor<T> State(int index, string name)
    {
        var map = _state[index];
        if (!map.TryGetValue(name, out var t))
        {
            var p = _parameters[index].Parameter;
            t = Tensor<T>.Zeros(p.Value.Device, p.Shape.ToArray());
            map[name] = t;
        }

        return t;
    }

    /// <summary>The state as a safetensors file: <c>optim.&lt;param&gt;.&lt;state&gt;</c> tensors, metadata <c>optim.type</c>, <c>optim.step</c>, <c>optim.lr</c> and the settings.</summary>
    public SafeTensorsFile StateToFile()
    {
        var tensors = new List<SafeTensor>();
        if (StepCount > 0)
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                foreach (string name in StateNames)
                    tensors.Add(StateDict.ToSafeTensor($"optim.{_parameters[i].Name}.{name}", State(i, name)));
            }
        }

        var metadata = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["optim.type"] = Kind,
            ["optim.step"] = StepCount.ToString(CultureInfo.InvariantCulture),
            ["optim.lr"] = LearningRate.ToString("R", CultureInfo.InvariantCulture),
        };
        foreach (var (k, v) in Settings())
            metadata["optim." + k] = v;
        return new SafeTensorsFile(tensors, metadata);
    }

    /// <summary>Writes the state to a safetensors file.</summary>
    /// <param name="path">The file.</param>
    public void SaveState(string path) => StateToFile().Write(path);

    /// <summary>Restores the state written by <see cref="SaveState"/> (step count, lr and every state tensor).</summary>
    /// <param name="path">The file.</param>
    public void LoadState(string path) => LoadState(SafeTensorsFile.Read(path));

    /// <summary>Restores the state from a safetensors file, checking the optimizer type, names and shapes.</summary>
    /// <param name="file">The state.</param>
    public void LoadState(SafeTensorsFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string where = file.Path ?? "optimizer state";
        if (!file.Metadata.TryGetValue("optim.type", out string? kind) || kind != Kind)
            throw new LstmException($"{where}: optimizer state is for '{kind ?? "(none)"}', not '{Kind}'");
        if (!file.Metadata.TryGetValue("optim.step", out string? stepText)
            || !long.TryParse(stepText, NumberStyles.None, CultureInfo.InvariantCulture, out long step))
            throw new LstmException($"{where}: metadata 'optim.step' is missing or not a count");
        if (file.Metadata.TryGetValue("optim.lr", out string? lrText)
            && double.TryParse(lrText, NumberStyles.Float, CultureInfo.InvariantCulture, out double lr))
            LearningRate = lr;
        if (step > 0)
        {
            for (int i = 0; i < _parameters.Length; i++)
            {
                foreach (string name in StateNames)
                {
                    var t = file.GetWithShape($"optim.{_parameters[i].Name}.{name}", _parameters[i].Parameter.Shape.ToArray());
                    var target = State(i, name);
                    if (target is Tensor<float> f)
                        f.CopyFrom(t.ToFloat32());
                    else if (target is Tensor<double> d)
                        d.CopyFrom(t.ToFloat64());
                }
            }
        }
        else
        {
            foreach (var map in _state)
            {
                foreach (var t in map.Values)
                    t.Clear();
            }
        }

        StepCount = step;
    }

    /// <summary>Frees the state tensors (not the parameters).</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Frees the state tensors.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (!disposing)
            return;
        foreach (var map in _state)
        {
            foreach (var t in map.Values)
                t.Dispose();
            map.Clear();
        }
    }

    /// <summary>Names parameters by their own <see cref="Parameter{T}.Name"/>.</summary>
    /// <param name="parameters">The parameters.</param>
    protected static IEnumerable<(string Name, Parameter<T> Parameter)> ByOwnName(IEnumerable<Parameter<T>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return parameters.Select(p => (p.Name, p));
    }

    /// <summary>A setting formatted for the metadata.</summary>
    /// <param name="v">The value.</param>
    protected static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
