package objectstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/imagegen/imagegen"
)

// MaxPresignTTL is the longest a SigV4 presigned URL may live, on S3 and R2.
const MaxPresignTTL = 7 * 24 * time.Hour

// S3Config says where and how to reach an S3-compatible bucket.
type S3Config struct {
	Bucket          string
	AccessKeyID     string
	SecretAccessKey string
	// Endpoint is the service URL, e.g. https://{account}.r2.cloudflarestorage.com
	// for R2 (the caller derives it) or http://localhost:9000 for MinIO.
	Endpoint string
	// Region defaults to "auto", which is what R2 expects.
	Region string
	// PublicBaseURL, when set, is where the bucket is readable without
	// credentials (an r2.dev subdomain or a custom domain); URL then returns
	// {PublicBaseURL}/{key}. When empty, URL returns a presigned GET.
	PublicBaseURL string
	// PresignTTL is how long presigned URLs stay valid: default and maximum
	// 7 days.
	PresignTTL time.Duration
	// UsePathStyle puts the bucket in the path rather than the host name;
	// MinIO and test servers need it, R2 does not.
	UsePathStyle bool
	// HTTPClient is optional; the SDK's default client is used when nil.
	HTTPClient *http.Client
	// MaxAttempts bounds the SDK's own retries of each call; 0 keeps the SDK
	// default (3). Callers that already retry (Temporal activities) may set 1.
	MaxAttempts int
}

// S3 stores images in an S3-compatible bucket. It is safe for concurrent use.
type S3 struct {
	client    *s3.Client
	presign   *s3.PresignClient
	bucket    string
	publicURL string
	secret    string // only to scrub it from error text
}

// NewS3 validates cfg and builds a client. It does not contact the server;
// call Check for that.
//
// The client ignores ambient AWS settings that would break it: the static
// credentials, region and endpoint given here win over AWS_* variables and
// ~/.aws profiles, FIPS and dual-stack endpoints are off (they cannot be
// combined with a custom endpoint), and checksums are only computed when an
// operation requires them, because R2 rejects or mishandles the CRC32 headers
// that aws-sdk-go-v2 sends by default.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.validate(); err != nil {
		return nil, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "objectstore: " + err.Error()}
	}
	publicURL := ""
	if cfg.PublicBaseURL != "" {
		u, err := parseBaseURL("public base URL", cfg.PublicBaseURL)
		if err != nil {
			return nil, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "objectstore: " + err.Error()}
		}
		publicURL = u
	}
	region := cfg.Region
	if region == "" {
		region = "auto"
	}
	ttl := cfg.PresignTTL
	if ttl == 0 {
		ttl = MaxPresignTTL
	}

	opts := []func(*config.LoadOptions) error{
		config.WithRegion(region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, "")),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithUseFIPSEndpoint(aws.FIPSEndpointStateDisabled),
		config.WithUseDualStackEndpoint(aws.DualStackEndpointStateDisabled),
	}
	if cfg.HTTPClient != nil {
		opts = append(opts, config.WithHTTPClient(cfg.HTTPClient))
	}
	if cfg.MaxAttempts > 0 {
		opts = append(opts, config.WithRetryMaxAttempts(cfg.MaxAttempts))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		// Reached only through the environment: AWS_PROFILE naming a profile
		// that does not exist, an unreadable ~/.aws file or AWS_CA_BUNDLE.
		msg := strings.ReplaceAll(err.Error(), cfg.SecretAccessKey, "[REDACTED]")
		return nil, &imagegen.Error{Kind: imagegen.KindMisconfigured, Message: "objectstore: load AWS SDK config: " + msg}
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(cfg.Endpoint)
		o.UsePathStyle = cfg.UsePathStyle
	})
	return &S3{
		client:    client,
		presign:   s3.NewPresignClient(client, s3.WithPresignExpires(ttl)),
		bucket:    cfg.Bucket,
		publicURL: publicURL,
		secret:    cfg.SecretAccessKey,
	}, nil
}

func (c S3Config) validate() error {
	var missing []string
	if c.Bucket == "" {
		missing = append(missing, "bucket")
	}
	if c.AccessKeyID == "" {
		missing = append(missing, "access key ID")
	}
	if c.SecretAccessKey == "" {
		missing = append(missing, "secret access key")
	}
	if c.Endpoint == "" {
		missing = append(missing, "endpoint")
	}
	if len(missing) > 0 {
		return fmt.Errorf("S3 storage needs %s", strings.Join(missing, ", "))
	}
	if _, err := parseBaseURL("endpoint", c.Endpoint); err != nil {
		return err
	}
	switch {
	case c.PresignTTL < 0:
		return fmt.Errorf("presign TTL %v is negative", c.PresignTTL)
	case c.PresignTTL > 0 && c.PresignTTL < time.Second:
		return fmt.Errorf("presign TTL %v is shorter than a second", c.PresignTTL)
	case c.PresignTTL > MaxPresignTTL:
		return fmt.Errorf("presign TTL %v is longer than the 7-day maximum of S3 and R2", c.PresignTTL)
	}
	if c.MaxAttempts < 0 {
		return fmt.Errorf("max attempts %d is negative", c.MaxAttempts)
	}
	return nil
}

// Put stores data under key, overwriting any object already there, so that
// a retried activity leaves one object. It uses a single PutObject (never the
// transfer manager, which always adds CRC32 checksums).
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if err := validateKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := validateContentType(contentType); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
		CacheControl:  aws.String(CacheControl),
	})
	if err != nil {
		return s.classify("put "+key, err)
	}
	return nil
}

// Get reads an object back with its content type. A missing object gives an
// error that matches fs.ErrNotExist.
func (s *S3) Get(ctx context.Context, key string) ([]byte, string, error) {
	if err := validateKey(key); err != nil {
		return nil, "", fmt.Errorf("get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchKey" {
			return nil, "", fmt.Errorf("get %s: %w", key, fs.ErrNotExist)
		}
		return nil, "", s.classify("get "+key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, "", s.classify("get "+key, err)
	}
	return data, aws.ToString(out.ContentType), nil
}

// URL names the object for a browser or an MCP client: a plain URL under
// PublicBaseURL when the bucket is public, else a presigned GET valid for
// PresignTTL. Presigning is local computation; it does not check that the
// object exists.
func (s *S3) URL(ctx context.Context, key string) (string, error) {
	if err := validateKey(key); err != nil {
		return "", fmt.Errorf("url: %w", err)
	}
	if s.publicURL != "" {
		return joinURL(s.publicURL, key), nil
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return "", s.classify("presign "+key, err)
	}
	return req.URL, nil
}

// Check asks the server whether the bucket exists and the credentials may
// use it, for readiness probes.
func (s *S3) Check(ctx context.Context) error {
	if _, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}); err != nil {
		return s.classify("check bucket", err)
	}
	return nil
}

// isMisconfiguredCode reports S3 error codes that retrying cannot fix: the
// bucket, endpoint, region or credentials are wrong.
func isMisconfiguredCode(code string) bool {
	switch code {
	case "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
		"AllAccessDisabled", "InvalidBucketName", "AuthorizationHeaderMalformed",
		"AccountProblem", "InvalidToken", "ExpiredToken", "Unauthorized", "PermanentRedirect":
		return true
	}
	return false
}

// classify turns an SDK error into an *imagegen.Error. Wrong bucket, denied
// access and bad credentials (by S3 error code, or a 401/403/404 status
// without a useful code, as HEAD responses have no body) are
// KindMisconfigured; everything else, such as 5xx, throttling, refused
// connections and timeouts, is KindStorage and worth retrying. The secret key
// is scrubbed from all text, including the wrapped cause.
func (s *S3) classify(op string, err error) error {
	status := 0
	var withStatus interface{ HTTPStatusCode() int }
	if errors.As(err, &withStatus) {
		status = withStatus.HTTPStatusCode()
	}
	code, detail := "", ""
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code, detail = apiErr.ErrorCode(), apiErr.ErrorMessage()
	}

	e := &imagegen.Error{Kind: imagegen.KindStorage, Status: status, Err: redacted{err: err, secret: s.secret}}
	if isMisconfiguredCode(code) || status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusNotFound {
		e.Kind = imagegen.KindMisconfigured
		why := code
		if why == "" || why == "NotFound" || why == "Forbidden" {
			why = fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
		}
		if detail != "" {
			why += ": " + detail
		}
		e.Message = fmt.Sprintf("%s: bucket %q: %s (check the bucket name, endpoint and credentials)", op, s.bucket, why)
	} else {
		e.Message = fmt.Sprintf("%s: bucket %q: %v", op, s.bucket, err)
	}
	e.Message = s.scrub(e.Message)
	return e
}

func (s *S3) scrub(text string) string {
	return strings.ReplaceAll(text, s.secret, "[REDACTED]")
}

// redacted wraps an SDK error so that its text never shows the secret key,
// while errors.As and errors.Is still reach the SDK's types.
type redacted struct {
	err    error
	secret string
}

func (r redacted) Error() string { return strings.ReplaceAll(r.err.Error(), r.secret, "[REDACTED]") }
func (r redacted) Unwrap() error { return r.err }

// List returns up to limit keys under prefix that sort after startAfter, in
// ascending order: one ListObjectsV2 call (limit is capped at S3's 1000).
func (s *S3) List(ctx context.Context, prefix, startAfter string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("list %s: limit %d must be positive", prefix, limit)
	}
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(s.bucket),
		Prefix:  aws.String(prefix),
		MaxKeys: aws.Int32(int32(min(limit, 1000))),
	}
	if startAfter != "" {
		in.StartAfter = aws.String(startAfter)
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		return nil, s.classify("list "+prefix, err)
	}
	keys := make([]string, 0, len(out.Contents))
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}
