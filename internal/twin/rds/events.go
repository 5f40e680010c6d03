package rds

import (
	"sort"
	"strconv"
	"time"

	"github.com/cairn-runbooks/cairn/internal/twin/awswire"
)

// Event is one RDS event (DescribeEvents): what happened to an instance or snapshot, worded as RDS
// words it. The twin keeps the last maxEvents, as RDS keeps 14 days.
type Event struct {
	SourceID   string
	SourceType string // db-instance, db-snapshot, db-parameter-group
	Message    string
	Categories []string
	Date       time.Time
}

const maxEvents = 2000

// eventLocked records an event; callers hold mu.
func (s *Service) eventLocked(sourceType, sourceID, message string, categories ...string) {
	s.st.Events = append(s.st.Events, Event{SourceID: sourceID, SourceType: sourceType, Message: message, Categories: categories, Date: s.now().UTC()})
	if n := len(s.st.Events); n > maxEvents {
		s.st.Events = s.st.Events[n-maxEvents:]
	}
}

func (s *Service) instanceEventLocked(inst *Instance, message string, categories ...string) {
	s.eventLocked("db-instance", inst.ID, message, categories...)
}

type xmlEvent struct {
	SourceIdentifier string
	SourceType       string
	Message          string
	EventCategories  []string `xml:"EventCategories>EventCategory"`
	Date             string
	SourceArn        string
}

type eventsResult struct {
	Marker string `xml:",omitempty"`
	Events struct {
		Items []xmlEvent `xml:"Event"`
	}
}

func (s *Service) describeEvents(form awswire.Form) (any, error) {
	max, _, err := describeParams(form)
	if err != nil {
		return nil, err
	}
	srcType, srcID := form.String("SourceType"), form.String("SourceIdentifier")
	if srcID != "" && srcType == "" {
		return nil, awswire.Errorf("InvalidParameterCombination", "Cannot specify SourceIdentifier without specifying SourceType.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	end := s.now()
	if v := form.String("EndTime"); v != "" {
		if end, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, awswire.Errorf("InvalidParameterValue", "Invalid EndTime %q.", v)
		}
	}
	minutes, hasDuration, err := form.Int("Duration")
	if err != nil {
		return nil, err
	}
	if !hasDuration {
		minutes = 60
	}
	start := end.Add(-time.Duration(minutes) * time.Minute)
	if v := form.String("StartTime"); v != "" {
		if start, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, awswire.Errorf("InvalidParameterValue", "Invalid StartTime %q.", v)
		}
	}
	cats := form.Strings("EventCategories")
	events := append([]Event(nil), s.st.Events...)
	sort.SliceStable(events, func(a, b int) bool { return events[a].Date.Before(events[b].Date) })
	var out eventsResult
	skip, _, _ := form.Int("Marker")
	n := 0
	for _, e := range events {
		if e.Date.Before(start) || e.Date.After(end) || (srcType != "" && e.SourceType != srcType) || (srcID != "" && e.SourceID != srcID) {
			continue
		}
		if len(cats) > 0 && !match(cats, e.Categories...) {
			continue
		}
		n++
		if n <= skip {
			continue
		}
		if len(out.Events.Items) == max {
			out.Marker = strconv.Itoa(n - 1)
			break
		}
		out.Events.Items = append(out.Events.Items, xmlEvent{SourceIdentifier: e.SourceID, SourceType: e.SourceType, Message: e.Message,
			EventCategories: e.Categories, Date: awswire.FormatTime(e.Date), SourceArn: sourceARN(e.SourceType, e.SourceID)})
	}
	return out, nil
}

func sourceARN(typ, id string) string {
	kind := map[string]string{"db-instance": "db", "db-snapshot": "snapshot", "db-parameter-group": "pg"}[typ]
	return "arn:aws:rds:" + awswire.Region + ":" + awswire.Account + ":" + kind + ":" + id
}
