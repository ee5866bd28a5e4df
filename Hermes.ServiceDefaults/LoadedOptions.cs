using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.Hosting;

/// <summary>How ingest and the dashboard put settings their seed-name readers loaded onto the options pattern.</summary>
public static class LoadedOptions
{
    /// <summary>
    /// Registers settings that a seed-name loader has read and validated as <c>IOptions&lt;TOptions&gt;</c>. They are
    /// read once, at builder time, because the host's own setup needs them (ingest's listen address, Kestrel's
    /// limits and the choice of sink; the dashboard's sign-in scheme), and a bad value must stop startup with exit
    /// code 2 before anything is configured from it. The options factory then starts from that instance, applies any
    /// <c>Configure</c> (a test's, say), and runs <typeparamref name="TValidator"/> and <typeparamref name="TRules"/>
    /// again at host start (<c>ValidateOnStart</c>). The bound instance itself is registered too, for hot paths that
    /// keep it in a field.
    /// </summary>
    public static OptionsBuilder<TOptions> AddLoadedOptions<TOptions, TValidator, TRules>(this IServiceCollection services, TOptions loaded)
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
        where TRules : class, IValidateOptions<TOptions>
    {
        services.AddSingleton<IOptionsFactory<TOptions>>(provider => new Factory<TOptions>(
            loaded,
            provider.GetServices<IConfigureOptions<TOptions>>(),
            provider.GetServices<IPostConfigureOptions<TOptions>>(),
            provider.GetServices<IValidateOptions<TOptions>>()));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TRules>());
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<TOptions>>().Value);
        return services.AddOptions<TOptions>().ValidateOnStart();
    }

    /// <summary>The standard factory, but the default instance is the loaded one rather than a new, unread one.</summary>
    private sealed class Factory<TOptions>(TOptions loaded, IEnumerable<IConfigureOptions<TOptions>> setups,
        IEnumerable<IPostConfigureOptions<TOptions>> postConfigures, IEnumerable<IValidateOptions<TOptions>> validations)
        : OptionsFactory<TOptions>(setups, postConfigures, validations)
        where TOptions : class
    {
        protected override TOptions CreateInstance(string name) => name == Microsoft.Extensions.Options.Options.DefaultName ? loaded : base.CreateInstance(name);
    }
}
