package secretsbackends

import (
	"context"
	"errors"
	"slices"
	"time"

	dbus "github.com/godbus/dbus/v5"
	ss "github.com/zalando/go-keyring/secret_service"
)

// The Secret Service on the D-Bus session bus, as zalando/go-keyring uses
// it.
const (
	secretsBusName   = "org.freedesktop.secrets"
	itemAttributes   = "org.freedesktop.Secret.Item.Attributes"
	collectionIface  = "org.freedesktop.Secret.Collection"
	loginCollection  = dbus.ObjectPath("/org/freedesktop/secrets/collection/login")
	defaultAlias     = dbus.ObjectPath("/org/freedesktop/secrets/aliases/default")
	propertiesGet    = "org.freedesktop.DBus.Properties.Get"
	nameHasOwner     = "org.freedesktop.DBus.NameHasOwner"
	listActivatables = "org.freedesktop.DBus.ListActivatableNames"
)

// diagnoseKeychain finds out why the keychain failed, within timeout: no
// session bus, no Secret Service on it, or a locked login keyring. It
// returns nil when it finds nothing wrong (or ctx is done).
func diagnoseKeychain(ctx context.Context, timeout time.Duration) *keychainProblem {
	p, err := bounded(ctx, timeout, func() (*keychainProblem, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		return diagnoseBus(ctx), nil
	})
	if errors.Is(err, errTimeout) {
		return &keychainProblem{unavailable: true, reason: "the D-Bus session bus does not answer", hint: hintNoBus, err: err}
	}
	return p
}

// probeKeychain reports, within timeout, whether the keychain cannot be
// reached at all; nil means it can (it may still be locked).
func probeKeychain(ctx context.Context, timeout time.Duration) *keychainProblem {
	if p := diagnoseKeychain(ctx, timeout); p != nil && p.unavailable {
		return p
	}
	return nil
}

func diagnoseBus(ctx context.Context) *keychainProblem {
	// The shared connection, as zalando/go-keyring uses it.
	conn, err := dbus.SessionBus()
	if err != nil {
		return &keychainProblem{unavailable: true, reason: "no D-Bus session bus", hint: hintNoBus, err: err}
	}
	var owned bool
	if err := conn.BusObject().CallWithContext(ctx, nameHasOwner, 0, secretsBusName).Store(&owned); err != nil {
		return &keychainProblem{unavailable: true, reason: "the D-Bus session bus does not answer", hint: hintNoBus, err: err}
	}
	if !owned {
		var names []string
		err := conn.BusObject().CallWithContext(ctx, listActivatables, 0).Store(&names)
		if err != nil || !slices.Contains(names, secretsBusName) {
			if err == nil {
				err = errors.New(secretsBusName + " has no owner and cannot be activated")
			}
			return &keychainProblem{unavailable: true, reason: "no Secret Service provider on the D-Bus session bus", hint: hintNoProvider, err: err}
		}
	}
	for _, path := range []dbus.ObjectPath{loginCollection, defaultAlias} {
		var v dbus.Variant
		err := conn.Object(secretsBusName, path).CallWithContext(ctx, propertiesGet, 0, collectionIface, "Locked").Store(&v)
		if err != nil {
			continue
		}
		if locked, _ := v.Value().(bool); locked {
			return &keychainProblem{reason: "the login keyring is locked", hint: hintLocked}
		}
		return nil
	}
	return &keychainProblem{reason: "the Secret Service has no login or default keyring",
		hint: "create one (for example with seahorse, or by unlocking with gnome-keyring-daemon --unlock), or " + hintFallback}
}

// listKeychain returns the names stored under service, unsorted.
func listKeychain(service string) ([]Name, error) {
	svc, err := ss.NewSecretService()
	if err != nil {
		return nil, err
	}
	coll := svc.GetLoginCollection()
	if err := svc.Unlock(coll.Path()); err != nil {
		return nil, err
	}
	items, err := svc.SearchItems(coll, map[string]string{"service": service})
	if err != nil {
		return nil, err
	}
	names := make([]Name, 0, len(items))
	for _, item := range items {
		v, err := svc.Object(secretsBusName, item).GetProperty(itemAttributes)
		if err != nil {
			return nil, err
		}
		attrs, _ := v.Value().(map[string]string)
		if n, err := ParseName(attrs["username"]); err == nil {
			names = append(names, n)
		}
	}
	return names, nil
}
