"""Paraphrase templates of the counsellor behaviours scored by the 17 call-quality sub-metrics.

`BEHAVIOURS[(head, index)]` holds, for the sub-metric `QA_HEADS[head][index]`, the renderings of the
behaviour when the criterion is met (`"met"`) and when it is not (`"not_met"`). A template is one or
more turns separated by `" || "`; a turn starting with `Caller: ` is the caller's, one starting with
`[` is a stage note, any other turn is the counsellor's. Slots: {counsellor}, {child}, {they}, {them},
{poss}, {day}, {minutes}, {office}, {detail}, {issue_short}, {extra_issue}.

Every fourth template of each list (indices 3, 7, 11) is *held out*: it is never used in the training
split and is the only kind used in the held-out evaluation split.

Two word families are reserved, so that a label can be read off the whole call and not only off its
template: counsellor turns say "please", "thank"/"thanks", "asante" or "tafadhali" only in the met
renderings of "uses please and thank you", and hesitation markers ("um", "er", "uh", "hmm", "...",
"not sure", "I guess", "maybe", "I think") only in the not-met renderings of "does not hesitate or
sound unsure".
"""

from __future__ import annotations

BEHAVIOURS: dict[tuple[str, int], dict[str, list[str]]] = {
    ("opening", 0): {
        "met": [
            "Good morning, you have reached the child helpline. My name is {counsellor}. How can I help you today?",
            "Hello, this is the child helpline, {counsellor} speaking. How may I help you?",
            "Child helpline, good afternoon. You are speaking with {counsellor}; what can I do for you?",
            "Good evening and welcome to the child helpline. I am {counsellor}, and I am here to help. "
            "What would you like to talk about?",
            "Habari, you are through to the child helpline. This is {counsellor}; how can I assist you?",
            "Welcome to the child helpline, where you can talk freely. My name is {counsellor}. "
            "How can I support you today?",
            "Hello, child helpline, {counsellor} here. What brings you to call us today?",
            "You have reached the national child helpline; {counsellor} on the line. Tell me how I can be of help.",
            "Good day, {counsellor} answering at the child helpline. What can I help with?",
            "Hujambo, you are speaking to {counsellor} at the child helpline. What would you like to share today?",
            "Hello, you are through to the child helpline. I am {counsellor}; how can I help you this morning?",
            "Karibu to the child helpline. {counsellor} speaking, and everything you share is confidential. "
            "How may I help?",
        ],
        "not_met": [
            "Yes?",
            "Hello. Talk.",
            "What is it?",
            "Speak up, I am listening.",
            "Helpline. Go.",
            "Yes, who is this?",
            "Eh, hello? What do you want?",
            "Who is on the line? Say it quickly.",
        ],
    },
    ("listening", 0): {
        "met": [
            "Caller: {detail} That is everything that happened. || Take your time; I am here and listening.",
            "Caller: {detail} I just needed to say all of it. || I let you finish because every detail matters. "
            "Go on if there is more.",
            "Caller: {detail} || Is there more you want to tell me? I will wait until you are done.",
            "Caller: {detail} Sorry, I am talking a lot. || No need to rush; say everything you need to say.",
            "Caller: {detail} || Carry on, I will not cut in.",
            "Caller: {detail} I do not know how to explain the rest. || Take all the time you need to finish.",
            "Caller: {detail} And there is something else too. || Go ahead and finish; I am following every word.",
            "Caller: {detail} That is the whole story. || I waited for you to get it all out; it helps me understand.",
            "Caller: {detail} || You can continue; the line is yours for as long as you need.",
            "Caller: {detail} Then the next day it happened again. || Keep going, I am not in a hurry.",
            "Caller: {detail} I am sorry if it is confusing. || It is not confusing; finish your story first "
            "and then we talk.",
            "Caller: {detail} || I am giving you space to tell it your way; continue.",
        ],
        "not_met": [
            "Caller: {detail} And then the next morning {they} -- || Okay, okay, I have heard enough of that.",
            "Caller: {detail} What worries me most is -- || Wait, let me talk now.",
            "Caller: {detail} The neighbours also said that -- || Stop there, that is not important.",
            "Caller: {detail} I tried to -- || Enough, I am the one asking the questions.",
            "Caller: {detail} And when I asked {them} about it, {they} -- || No, no, listen to me instead.",
            "Caller: {detail} The last time this happened -- || I do not need the history. Next.",
            "Caller: {detail} Can I just explain why -- || Let me cut you short; we do not have all day.",
            "Caller: {detail} Also, there is one more thing that -- || Skip that part and answer my question.",
        ],
    },
    ("listening", 1): {
        "met": [
            "That sounds really painful. I am sorry you and {child} are going through this.",
            "I can hear how worried you are, and that is completely understandable.",
            "It must be very hard to watch {child} suffer like this.",
            "Anyone in your place would feel shaken; your concern for {child} shows how much you care.",
            "I am sorry to hear that. You are not alone in this.",
            "That must have been frightening for both of you.",
            "I understand how upsetting this is for you.",
            "My heart goes out to {child}; nobody should have to live through that.",
            "It is clear this has weighed on you for a long time, and I am glad you reached out.",
            "What you are feeling is normal; this is a lot to carry.",
            "I can only imagine how exhausting this has been for you.",
            "Hearing this, I feel for you; it takes courage to talk about it.",
        ],
        "not_met": [
            "Feelings aside, just give me the facts.",
            "Crying will not help; get to the point.",
            "That is common. Many people have it worse.",
            "This kind of thing happens every day; it is nothing special.",
            "You are overreacting; let us move on.",
            "I do not need to hear how you feel about it.",
            "Such stories are normal around here.",
            "Calm down; your emotions are slowing us down.",
        ],
    },
    ("listening", 2): {
        "met": [
            "So if I have understood you correctly, {issue_short}.",
            "Let me make sure I have this right: {issue_short}.",
            "What I am hearing is that {issue_short}. Is that correct?",
            "In other words, {issue_short}; have I got that right?",
            "So, to sum up what you have told me, {issue_short}.",
            "Just to repeat it back to you: {issue_short}.",
            "If I put it in my own words, {issue_short}.",
            "Let me restate the problem so we agree on it: {issue_short}.",
            "You are telling me that {issue_short}, correct?",
            "So the main issue, as I understand it, is that {issue_short}.",
            "Okay, so in short, {issue_short}.",
            "Putting together everything you have said, {issue_short}.",
        ],
        "not_met": [
            "Right. Next question.",
            "Okay, moving on.",
            "Fine. What else?",
            "Noted. Let us go to something else.",
            "Alright, and then?",
            "Okay. Anything more?",
            "Right, keep going.",
            "I have written it down. Next point.",
        ],
    },
    ("listening", 3): {
        "met": [
            "Could you please tell me {child}'s age?",
            "Thank you for sharing that with me.",
            "Please tell me where {child} is staying now.",
            "Thank you so much for trusting us with this.",
            "Please, can you spell {child}'s name for me?",
            "Thank you, that helps me a lot.",
            "Please say that again slowly. Thank you.",
            "Please continue; thank you for explaining it so clearly.",
            "Asante for calling us about {child}.",
            "Tafadhali, please tell me the name of the area.",
            "Thanks for telling me this; please go on.",
            "Could you please repeat the last part? Thank you.",
        ],
        "not_met": [
            "Give me {child}'s age.",
            "Tell me where {child} is staying.",
            "Spell the name.",
            "Say the name of the area.",
            "Repeat that.",
            "Answer the question: how old is {child}?",
            "Where do you live? Say it.",
            "Just tell me the name of the school.",
        ],
    },
    ("listening", 4): {
        "met": [
            "I can tell you exactly what we will do.",
            "Here is what I know for certain about this.",
            "I am confident we can get help for {child}.",
            "There is a clear answer to that, and I will give it to you now.",
            "Yes, I know how to handle this kind of case.",
            "Let me be clear about what happens now.",
            "This is something we deal with often, and there is a proper way to handle it.",
            "I can answer that straight away.",
            "Right away, I can tell you the options.",
            "I know the right office for this.",
            "There is no doubt: {child} has the right to be protected.",
            "Without question, this is something we can act on today.",
        ],
        "not_met": [
            "Um... I am not sure... maybe you could, er, try the chief?",
            "Uh, I think, maybe, I do not really know what to say.",
            "Hmm, well, er, it depends, I guess...",
            "Er... I mean... I am not sure that is something, um, we do.",
            "Um, let me see... I guess... I do not know.",
            "Maybe... uh... you could try somewhere, I think.",
            "Er, that is... hmm, I am not sure, honestly.",
            "Well... um... I guess it could be possible... maybe.",
        ],
    },
    ("proactiveness", 0): {
        "met": [
            "Caller: There is one more thing: {extra_issue}. || Let us look at that as well before we finish.",
            "Caller: Also, {extra_issue}. || That matters too; let us deal with it now.",
            "Caller: I forgot to say that {extra_issue}. || I am glad you mentioned it. We can handle that on this call.",
            "Caller: Another problem is that {extra_issue}. || We will not leave that hanging; let us work on it together.",
            "Caller: And {extra_issue}, but that is another story. || It is not another story to me; tell me more about it.",
            "Caller: Can I ask about something else? {extra_issue}. || Of course, let us talk about that too.",
            "Caller: By the way, {extra_issue}. || I will add that to the case and we will work on it.",
            "Caller: Something else is bothering me: {extra_issue}. || Good that you raised it; we can find help for "
            "that as well.",
            "Caller: Besides that, {extra_issue}. || Then let us sort that out too.",
            "Caller: There is also the issue that {extra_issue}. || Fine, we will take that one next.",
            "Caller: One last thing: {extra_issue}. || That is important; I will help with it as well.",
            "Caller: I do not know if you can help, but {extra_issue}. || We can, and I will include it in what we "
            "do next.",
        ],
        "not_met": [
            "Caller: There is one more thing: {extra_issue}. || That is a different matter; this call is only about "
            "the first issue.",
            "Caller: Also, {extra_issue}. || I cannot deal with that today.",
            "Caller: I forgot to say that {extra_issue}. || That is not our problem here.",
            "Caller: Another problem is that {extra_issue}. || Call another day for that one.",
            "Caller: By the way, {extra_issue}. || Let us not go there; it is not part of this case.",
            "Caller: Besides that, {extra_issue}. || We only handle one thing per call.",
            "Caller: One last thing: {extra_issue}. || That is outside what I can do, forget it.",
            "Caller: Something else is bothering me: {extra_issue}. || Do not bring other issues into this.",
        ],
    },
    ("proactiveness", 1): {
        "met": [
            "Are you comfortable with the steps we have agreed on? || Caller: Yes, that works for me.",
            "Does this plan work for you and {child}? || Caller: Yes, it does.",
            "Before we go on, are you happy with what we have decided? || Caller: I am, yes.",
            "Is there any part of the plan you would like to change? || Caller: No, it is fine as it is.",
            "Do you feel these action points address your concern? || Caller: Yes, they do.",
            "Are you okay with me going ahead with this? || Caller: Yes, go ahead.",
            "How do you feel about the plan we have made? || Caller: It sounds good.",
            "Tell me honestly whether this plan suits you. || Caller: It suits me.",
            "Is that what you were hoping for? || Caller: Yes, that is what I wanted.",
            "Can we agree that these are the next steps? || Caller: We agree.",
            "Do you have any concerns about what we have agreed? || Caller: No concerns.",
            "Will these steps be workable for you at home? || Caller: Yes, I can manage them.",
        ],
        "not_met": [
            "That is the plan. We are done with that part.",
            "Those are the steps. Do them.",
            "I have decided what will happen; no need to discuss it.",
            "That is what we will do, whether it suits you or not.",
            "The plan is fixed. Moving on.",
            "You will do it that way, end of story.",
            "No questions on the plan, it is settled.",
            "Just follow those steps; your opinion is not needed.",
        ],
    },
    ("proactiveness", 2): {
        "met": [
            "I will call you on {day} to find out whether the children's officer has visited.",
            "I see you called us last week about {child}; has anything changed since then?",
            "I am putting a follow-up on this case and will check in with you on {day}.",
            "Our records show an open case for {child}; let me get an update from you on how it has moved.",
            "I will ring you back on {day} to see how {child} is doing.",
            "Last time you told us {child} was going to be moved; did that happen?",
            "Expect a call from me on {day} so we can review progress.",
            "Before closing the file I want to hear what has happened since your last call.",
            "I will keep following this case until {child} is safe, and I will call on {day}.",
            "Has the office we referred you to contacted you yet?",
            "I have scheduled a check-in with you for {day}.",
            "Let us set a date to review things again; {day} works, and I will be the one calling.",
        ],
        "not_met": [
            "We do not call back; if something changes, ring again yourself.",
            "Once this call ends, the case is closed on our side.",
            "I will not be following this up; it is up to you now.",
            "There is no need for us to check on this later.",
            "After today, you are on your own with this.",
            "We never track what happens after the call.",
            "What happened since your last call is not my concern.",
            "Nobody will contact you again about this.",
        ],
    },
    ("resolution", 0): {
        "met": [
            "Calls to this helpline are free, even from a mobile phone.",
            "Defilement is a serious crime, and it can be reported at any police station.",
            "A child does not need a parent's permission to call this line.",
            "Reporting abuse to the police costs nothing; no officer may ask you for money.",
            "The children's officer can visit the home and assess the situation.",
            "Every child has the right to go to school, and basic education in public schools is free.",
            "A medical examination should be done as soon as possible after sexual abuse, ideally within 72 hours.",
            "After sexual abuse, go to a health facility quickly: the medicine that prevents HIV works best "
            "within three days.",
            "Child marriage is against the law; nobody under eighteen can legally be married.",
            "This helpline is open day and night, every day of the week.",
            "What you tell me is kept confidential, and you can stay anonymous.",
            "Anyone who suspects a child is being harmed can report it; you do not have to be a relative.",
        ],
        "not_met": [
            "You must pay a fee at the police station before they record a statement.",
            "A child needs a parent's permission before calling this line.",
            "Nothing can be done unless the child has visible injuries.",
            "Abuse inside a family is a private matter that the law does not cover.",
            "This helpline only works during office hours on weekdays.",
            "It is too late to go to hospital if it happened yesterday.",
            "A girl of fifteen can be married if her parents agree.",
            "Only a parent is allowed to report that a child is being harmed.",
        ],
    },
    ("resolution", 1): {
        "met": [
            "I would like to ask a few questions so that I understand the situation properly.",
            "I will explain everything in simple terms, and you can stop me at any point.",
            "I want to make sure we use the right words for what happened to {child}.",
            "Let us go through this calmly and respectfully, one point at a time.",
            "I will speak in whichever language is easiest for you, English or Kiswahili.",
            "What happened to {child} is not {poss} fault, and we will treat it seriously.",
            "I am going to describe the options clearly and respectfully.",
            "You have every right to ask questions; none of them is foolish.",
            "We will refer to {child} by name and keep the details private.",
            "I will keep my explanation short and clear.",
            "Everything we discuss will be handled with respect for you and {child}.",
            "Allow me to put this in plain words so it is easy to follow.",
        ],
        "not_met": [
            "Eish, that kid is a proper mess, hey.",
            "Sasa wewe, why did you even let the child go there, are you stupid?",
            "Whatever, these children always lie about stuff like that.",
            "Aki that mother is useless, si you know?",
            "Bana, stop wasting my time with such nonsense.",
            "Ati what? Speak properly, you people never make sense.",
            "That child is just spoilt rotten, ama?",
            "Your family sounds like a bunch of fools, honestly.",
        ],
    },
    ("resolution", 2): {
        "met": [
            "Let me confirm that with my supervisor before I advise you.",
            "I want to be certain, so I will check with the legal officer on duty.",
            "I will consult a colleague who handles custody cases and come back to you.",
            "That is a specialised question; I am going to ask our legal team and get back to you on {day}.",
            "Before I answer, I will verify the rules with the children's office.",
            "I will check our referral directory to give you the correct contact.",
            "My supervisor knows this area better; I will get her advice on it.",
            "Rather than guess, I will ask a colleague who deals with these cases.",
            "Let me verify the procedure with our case manager.",
            "I will confirm the details with the health officer so I do not mislead you.",
            "I will get a second opinion from my team lead on this one.",
            "It is better that I check with the specialist on duty before giving you an answer.",
        ],
        "not_met": [
            "I will not bother checking with anyone; go with what I said.",
            "No need to ask my supervisor; I will just decide on my own.",
            "I am not going to look it up; just try whatever you like.",
            "Checking with others is a waste of time; take my word for it.",
            "There is no point consulting anyone about that.",
            "I will answer without looking at the directory; go to any office.",
            "Nobody else needs to be involved; figure out the rest.",
            "I do not ask colleagues for things like this.",
        ],
    },
    ("resolution", 3): {
        "met": [
            "Before anything else, I need to know whether {child} is safe right now.",
            "Let me record {child}'s name, age and location so the case is opened properly.",
            "I will first assess the risk to {child}, then register the case, then refer it.",
            "Following our procedure, I am logging this case and assessing how urgent it is.",
            "I need to check who is caring for {child} today; that is part of the safety assessment.",
            "I am opening a case file for {child} and noting the details you have given.",
            "Our protocol is to confirm the child's safety first, and I will do that now.",
            "Step one is making sure {child} is out of danger; step two is the referral.",
            "Let me take down the location and the caregiver's contact for the record.",
            "I am registering this as a case so that it can be tracked.",
            "Since {child} may be at risk, I will complete the risk assessment before we go on.",
            "The correct process is to document the case first, so I am entering it now.",
        ],
        "not_met": [
            "I do not need {child}'s details; just go and sort it out with the family.",
            "No need to open a case; it is not serious.",
            "Skip the safety questions; go straight to the chief.",
            "I will not record anything, just handle it yourself.",
            "Forget the assessment; take {child} anywhere.",
            "We can skip the paperwork on this one.",
            "I will refer it without asking anything more.",
            "Whether {child} is safe or not does not matter for now.",
        ],
    },
    ("resolution", 4): {
        "met": [
            "Here is what happens next: first, I report the case to the children's officer; second, they visit "
            "within two days; then I call you on {day}.",
            "The process is simple: you go to {office}, give a statement, and they open a file for {child}.",
            "Let me walk you through the steps: we refer, the officer assesses, and then {child} gets support.",
            "I will explain the whole process: the referral goes out today, the officer contacts you, and then "
            "they agree a plan with you.",
            "Step by step: today I log the case, tomorrow the officer calls you, and within the week someone visits.",
            "You will go to {office} with {child}; they will examine {child} and give you a form for the police.",
            "To be clear about what comes next: the social worker will phone you, arrange a visit, and then "
            "report back to us.",
            "Here is the order of things: your statement first, then the medical check, then the meeting with "
            "the officer.",
            "After this call I send the referral; you should hear from {office} within 48 hours, and if not, "
            "call us back.",
            "There are three steps: the report, the assessment, and the support plan; I will explain each one "
            "as it comes.",
            "What will happen is this: the officer at {office} takes the report and then contacts the family.",
            "So that you know what to expect, the officer first speaks to you, then to {child}, and then decides "
            "on the support.",
        ],
        "not_met": [
            "Someone will deal with it somehow.",
            "Just go there and they will do their thing.",
            "It will get sorted, do not worry about how.",
            "Things will happen; you will see.",
            "They will handle it their way, whatever that is.",
            "Go to the office and see what they say.",
            "There is a process, it is complicated, never mind.",
            "You will figure out the rest as you go.",
        ],
    },
    ("hold", 0): {
        "met": [
            "I need to check the nearest children's office for you; I will place you on hold for about "
            "{minutes} minutes.",
            "I am going to put you on a short hold while I look up the right contact. It will take around "
            "{minutes} minutes.",
            "Bear with me: I will place the call on hold for {minutes} minutes to go through the referral list.",
            "To get you the correct information, I need to put you on hold briefly, about {minutes} minutes; "
            "stay on the line.",
            "I will put you on hold now for a moment while I find the officer's number.",
            "Let me place you on hold for a couple of minutes to check our records.",
            "I am putting you on hold for about {minutes} minutes so I can confirm the details; do not hang up.",
            "You will hear silence for a few minutes because I am putting you on hold to look this up.",
            "Stay on the line; I am placing you on hold to find the right office.",
            "I will need to hold the call for {minutes} minutes while I check something for {child}.",
            "Give me {minutes} minutes on hold to get the information you need.",
            "I am about to place you on hold, for roughly {minutes} minutes, while I search for the right office.",
        ],
        "not_met": [
            "Hold.",
            "Wait.",
            "Hold on.",
            "One second.",
            "Do not go anywhere.",
            "Stay there.",
            "Hang on.",
            "Give me a sec.",
        ],
    },
    ("hold", 1): {
        "met": [
            "I appreciate your patience while I checked.",
            "I am grateful that you waited on the line.",
            "Much appreciated that you held on for me.",
            "It was kind of you to stay on hold; I know waiting is not easy.",
            "I appreciate you holding; I have the information now.",
            "Your patience while on hold is appreciated.",
            "I am grateful you stayed on the line all that time.",
            "Being patient on hold like that really helped me; I am grateful.",
            "I appreciate you waiting; here is what I found.",
            "Grateful for your patience, I am back with the details.",
            "Good of you to wait; I appreciate it.",
            "You waited patiently on hold, and I truly appreciate that.",
        ],
        "not_met": [
            "Okay, I am back. So.",
            "Right, where were we?",
            "Back. Next question.",
            "I have it. Write this down.",
            "Yes, so as I was saying.",
            "Okay, the number is ready.",
            "Back on. Let us continue.",
            "Right, I found something.",
        ],
    },
    ("closing", 0): {
        "met": [
            "Is there anything more I can do for you today? If not, take care, and remember this line is open "
            "any time. Goodbye.",
            "You did the right thing by calling. Call us back any time. Goodbye and take care.",
            "Before we end, is there anything more? Alright, stay safe, and goodbye.",
            "We have come to the end of our call; do reach out again whenever you need us. Have a good day.",
            "It was good talking with you. Remember, we are here for you and {child} any day. Goodbye.",
            "I am closing the call now; take good care of {child}, and call again if anything changes. Kwaheri.",
            "If there is nothing else, I wish you and {child} well. Goodbye.",
            "That brings our call to a close; look after yourself and {child}, and do not hesitate to call back.",
            "Anything else before we end? Then goodbye, and take care.",
            "Take care of yourself. This line is always open. Goodbye for now.",
            "We will end here; stay safe and call again any time. Goodbye.",
            "Wishing you and {child} strength; you can always come back to us. Bye for now, and take care.",
        ],
        "not_met": [
            "Okay. Bye.",
            "That is all.",
            "[The counsellor hangs up without a closing.]",
            "Done. Next caller.",
            "Right, we are finished here.",
            "[The line goes dead.]",
            "Okay, I have to go.",
            "[The call is cut from the counsellor's side.]",
        ],
    },
}

# Hold markers: neutral stage notes present in every call that has a hold, whatever the labels.
HOLD_MARKERS: list[str] = [
    "[The caller is placed on hold.]",
    "[Call on hold for {minutes} minutes.]",
    "[Hold music plays.]",
    "[The line is on hold.]",
]

# Words reserved to one behaviour (see the module docstring).
POLITE_WORDS = r"\b(please|thank|thanks|asante|tafadhali)\b"
HESITATION_MARKERS = r"\b(um|uh|er|hmm|maybe|not sure|I guess|I think)\b|\.\.\."

# Neutral counsellor turns: fillers that carry none of the behaviours.
NEUTRAL_COUNSELLOR: list[str] = [
    "Okay.",
    "I see.",
    "Right.",
    "Alright.",
    "Where are you calling from?",
    "Who lives with {child}?",
    "Since when has this been happening?",
    "And where is the home, which village?",
    "Does {child} go to school?",
    "When did you last see {child}?",
]
