package datastore

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// s3Settings is what openS3 derives from Options and the URI's query.
type s3Settings struct {
	region       string
	endpoint     string
	profile      string
	pathStyle    *bool // nil: let the SDK decide
	disableHTTPS bool
	anonymous    bool
}

// s3SettingsFor merges opts.AWS with the query parameters of loc; the query
// wins, since it is the more specific of the two.
func s3SettingsFor(loc location, o AWSOptions) (s3Settings, error) {
	s := s3Settings{region: o.Region, endpoint: o.Endpoint}
	style := o.AddressingStyle
	for k, v := range loc.query {
		val := v[0]
		switch k {
		case "region":
			s.region = val
		case "endpoint":
			s.endpoint = val
		case "profile":
			s.profile = val
		case "use_path_style", "s3ForcePathStyle":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return s, fmt.Errorf("query parameter %s: %w", k, err)
			}
			style = "virtual"
			if b {
				style = "path"
			}
		case "disable_https":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return s, fmt.Errorf("query parameter %s: %w", k, err)
			}
			s.disableHTTPS = b
		case "anonymous":
			b, err := strconv.ParseBool(val)
			if err != nil {
				return s, fmt.Errorf("query parameter %s: %w", k, err)
			}
			s.anonymous = b
		default:
			return s, fmt.Errorf("unsupported query parameter %q for s3 (want region, endpoint, profile, use_path_style, disable_https or anonymous)", k)
		}
	}
	if s.endpoint != "" && !strings.Contains(s.endpoint, "://") {
		if s.disableHTTPS {
			s.endpoint = "http://" + s.endpoint
		} else {
			s.endpoint = "https://" + s.endpoint
		}
	}
	yes, no := true, false
	switch style {
	case "path":
		s.pathStyle = &yes
	case "virtual":
		s.pathStyle = &no
	case "auto":
	case "":
		if s.endpoint != "" {
			s.pathStyle = &yes
		}
	default:
		return s, fmt.Errorf("aws addressing style %q: want path, virtual or auto", style)
	}
	return s, nil
}

// openS3 opens loc's bucket with an S3 client built from opts. The SDK's own
// retries are turned off: [retry] owns them, so Options.Retries means what
// it says.
func openS3(ctx context.Context, loc location, opts *Options) (*blob.Bucket, error) {
	set, err := s3SettingsFor(loc, opts.AWS)
	if err != nil {
		return nil, err
	}
	load := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }),
	}
	if set.region != "" {
		load = append(load, config.WithRegion(set.region))
	}
	if set.profile != "" {
		load = append(load, config.WithSharedConfigProfile(set.profile))
	}
	switch {
	case set.anonymous:
		load = append(load, config.WithCredentialsProvider(aws.AnonymousCredentials{}))
	case opts.AWS.AccessKeyID != "" || opts.AWS.SecretAccessKey != "":
		if opts.AWS.AccessKeyID == "" || opts.AWS.SecretAccessKey == "" {
			return nil, &kindError{ErrNoCredentials, fmt.Errorf("aws access key ID and secret access key must be set together")}
		}
		load = append(load, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(opts.AWS.AccessKeyID, opts.AWS.SecretAccessKey, "")))
	}
	// The SDK's own lines (its default logger prints "SDK ... WARN falling
	// back to IMDSv1" and the like straight to stderr) go to goflyte's
	// logger at debug, so the user sees them with --log-level debug only.
	load = append(load, config.WithLogger(sdkLogger(opts)))
	if opts.AWS.EnableDebug {
		load = append(load, config.WithClientLogMode(aws.LogRequest|aws.LogResponse|aws.LogRetries|aws.LogSigning))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("load aws config: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	if !set.anonymous {
		// Ask for the credentials now, so that their absence is reported
		// as such rather than as a failed request.
		if cfg.Credentials == nil {
			return nil, &kindError{ErrNoCredentials, fmt.Errorf("no aws credential provider")}
		}
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			return nil, &kindError{ErrNoCredentials, err}
		}
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if set.endpoint != "" {
			o.BaseEndpoint = aws.String(set.endpoint)
		}
		if set.pathStyle != nil {
			o.UsePathStyle = *set.pathStyle
		}
		o.EndpointOptions.DisableHTTPS = set.disableHTTPS
	})
	return s3blob.OpenBucket(ctx, client, loc.bucket, &s3blob.Options{
		RequestChecksumCalculation: cfg.RequestChecksumCalculation,
	})
}

// sdkLogger is the AWS SDK's logger: every line, whatever its
// classification, at debug level in opts.Logger, with secrets redacted.
func sdkLogger(opts *Options) logging.Logger {
	log := opts.logger()
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		log.Debug("aws: "+redact(fmt.Sprintf(format, v...), opts.secrets()), "classification", string(c))
	})
}
