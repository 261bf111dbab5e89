package app

import (
	"github.com/imagegen/imagegen/openai"
	"github.com/imagegen/imagegen/providers"
	"github.com/imagegen/imagegen/workersai"
)

// realProviders builds the Workers AI client and, when OPENAI_API_KEY is set,
// the OpenAI-compatible client, behind a router that picks by each model's
// Provider in the models table. Models of a provider left unconfigured fail
// at once, without retries, naming the models that do run here.
func (a *App) realProviders() (*providers.Router, error) {
	wai, err := workersai.New(workersai.Config{AccountID: a.cfg.CloudflareAccountID, APIToken: a.cfg.CloudflareAPIToken, BaseURL: a.cfg.CloudflareBaseURL})
	if err != nil {
		return nil, err
	}
	routes := map[string]providers.Provider{ProviderWorkersAI: wai}
	if a.cfg.OpenAIAPIKey != "" {
		oai, err := openai.New(a.cfg.openAIConfig())
		if err != nil {
			return nil, err
		}
		routes[openai.Provider] = oai
		a.log.Info("OpenAI-compatible images API configured", "endpoint", oai.Endpoint(), "model_override", a.cfg.OpenAIImageModel)
	}
	return providers.NewRouter(routes), nil
}
