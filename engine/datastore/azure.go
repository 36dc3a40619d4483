package datastore

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"gocloud.dev/blob"
	"gocloud.dev/blob/azureblob"
)

// azureServiceURL returns the service URL for loc: the azureblob driver's
// defaults from AZURE_STORAGE_* variables, then the account name from
// opts, then the URI's query parameters.
func azureServiceURL(loc location, o AzureOptions) (azureblob.ServiceURL, error) {
	so := azureblob.NewDefaultServiceURLOptions()
	if o.StorageAccountName != "" {
		so.AccountName = o.StorageAccountName
	}
	for k, v := range loc.query {
		val := v[0]
		switch k {
		case "domain":
			so.StorageDomain = val
		case "protocol":
			so.Protocol = val
		case "storage_account":
			so.AccountName = val
		case "cdn", "localemu":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return "", fmt.Errorf("query parameter %s: %w", k, err)
			}
			if k == "cdn" {
				so.IsCDN = b
			} else {
				so.IsLocalEmulator = b
			}
		default:
			return "", fmt.Errorf("unsupported query parameter %q for azblob (want domain, protocol, storage_account, cdn or localemu)", k)
		}
	}
	if so.AccountName == "" {
		return "", &kindError{ErrNoCredentials, fmt.Errorf("no azure storage account: set storage_account_name in flyte.hcl or AZURE_STORAGE_ACCOUNT")}
	}
	return azureblob.NewServiceURL(so)
}

// openAzure opens loc's container: with the account key when set, with a
// service principal when tenant, client and secret are set, else with the
// azureblob driver's defaults. The SDK's own retries are turned off when
// the credentials come from opts; [retry] owns them.
func openAzure(ctx context.Context, loc location, opts *Options) (*blob.Bucket, error) {
	svc, err := azureServiceURL(loc, opts.Azure)
	if err != nil {
		return nil, err
	}
	containerURL, err := url.JoinPath(string(svc), loc.bucket)
	if err != nil {
		return nil, err
	}
	co := &container.ClientOptions{ClientOptions: azcore.ClientOptions{Retry: policy.RetryOptions{MaxRetries: -1}}}
	a := opts.Azure
	var client *container.Client
	switch {
	case a.StorageAccountKey != "":
		cred, err := azblob.NewSharedKeyCredential(accountOf(svc, a), a.StorageAccountKey)
		if err != nil {
			return nil, &kindError{ErrNoCredentials, fmt.Errorf("azure storage account key: %w", err)}
		}
		client, err = container.NewClientWithSharedKeyCredential(containerURL, cred, co)
		if err != nil {
			return nil, err
		}
	case a.TenantID != "" || a.ClientID != "" || a.ClientSecret != "":
		if a.TenantID == "" || a.ClientID == "" || a.ClientSecret == "" {
			return nil, &kindError{ErrNoCredentials, fmt.Errorf("azure tenant_id, client_id and client_secret must be set together")}
		}
		cred, err := azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.ClientSecret, nil)
		if err != nil {
			return nil, &kindError{ErrNoCredentials, err}
		}
		client, err = container.NewClient(containerURL, cred, co)
		if err != nil {
			return nil, err
		}
	default:
		client, err = azureblob.NewDefaultClient(svc, azureblob.ContainerName(loc.bucket))
		if err != nil {
			return nil, &kindError{ErrNoCredentials, err}
		}
	}
	return azureblob.OpenBucket(ctx, client, nil)
}

// accountOf returns the account name for a shared key: from opts, else
// from the service URL's defaults (AZURE_STORAGE_ACCOUNT).
func accountOf(svc azureblob.ServiceURL, a AzureOptions) string {
	if a.StorageAccountName != "" {
		return a.StorageAccountName
	}
	return azureblob.NewDefaultServiceURLOptions().AccountName
}
